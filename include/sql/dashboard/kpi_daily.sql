-- Daily KPIs of the last params.days days with data (dashboard: users, sessions, funnel, errors).
SELECT *
FROM {{ params.schema }}.v_kpi_daily
WHERE event_date > DATEADD(day, -{{ params.days }}, (SELECT MAX(event_date) FROM {{ params.schema }}.v_kpi_daily))
ORDER BY event_date
