-- Revenue per product category and currency over the last params.days days with data.
SELECT product_category, currency, SUM(units) AS units, SUM(revenue) AS revenue
FROM {{ params.schema }}.v_revenue_daily
WHERE event_date > DATEADD(day, -{{ params.days }}, (SELECT MAX(event_date) FROM {{ params.schema }}.v_revenue_daily))
GROUP BY product_category, currency
ORDER BY revenue DESC, product_category, currency
