-- Spend alerts (the usage ledger's "monthly_spend" over a tenant's budget and "spend_growth" week
-- over week) are kept in alert_state too, one row per "usage:<tenant>:<kind>" that has ever fired.
-- Their threshold (the budget, the growth factor) is not in the configuration, so the row keeps the
-- one in force at its last change; for SLO and rule alerts it stays 0 (read from the config).
ALTER TABLE alert_state ADD COLUMN threshold REAL NOT NULL DEFAULT 0;
