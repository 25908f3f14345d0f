-- Events, errors and error rate per day and platform over the last params.days days with data.
SELECT event_date, platform, events, errors, fatal_errors, error_rate
FROM {{ params.schema }}.v_app_health_daily
WHERE event_date > DATEADD(day, -{{ params.days }}, (SELECT MAX(event_date) FROM {{ params.schema }}.v_app_health_daily))
ORDER BY event_date, platform
