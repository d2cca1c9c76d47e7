-- Rows as keygate 0007 wrote them. Never edit it; add NNNN.sql for later steps.
-- 0007 only changes indexes: it writes no rows.
SELECT 1;
