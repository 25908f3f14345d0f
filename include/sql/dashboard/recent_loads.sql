-- The latest warehouse loads: which interval, how many rows, when.
SELECT load_id, MIN(interval_start) AS interval_start, MAX(interval_end) AS interval_end,
       SUM(partitions) AS partitions, SUM(row_count) AS row_count, MAX(loaded_at) AS loaded_at
FROM {{ params.schema }}.load_audit
GROUP BY load_id
ORDER BY loaded_at DESC
LIMIT 10
