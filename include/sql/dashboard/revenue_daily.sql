-- Revenue per day and currency over the last params.days days with data (never summed across currencies).
SELECT event_date, currency, SUM(units) AS units, SUM(revenue) AS revenue
FROM {{ params.schema }}.v_revenue_daily
WHERE event_date > DATEADD(day, -{{ params.days }}, (SELECT MAX(event_date) FROM {{ params.schema }}.v_revenue_daily))
GROUP BY event_date, currency
ORDER BY event_date, currency
