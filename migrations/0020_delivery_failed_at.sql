-- When a delivery failed for good (the API's and the staff page's `at` for a failed one; it showed
-- when it was asked for). Rows failed before this migration keep NULL and show their request time.
ALTER TABLE deliveries ADD COLUMN failed_at timestamptz;
