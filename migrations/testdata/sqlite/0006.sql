-- Rows as keygate 0006 wrote them. Never edit it; add NNNN.sql for later steps.
INSERT INTO health_heartbeat (instance, beat_at) VALUES ('seed-host-1234-abcd', 1767225600000);
