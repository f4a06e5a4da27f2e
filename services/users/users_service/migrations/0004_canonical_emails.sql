-- E-mails become canonical (NFKC + full case folding, service_common.text.canonical_email): rows written
-- before it was applied were only lower-cased, so look-alikes (a full-width letter, a sharp s) may be
-- stored apart. The rewrite needs Python's Unicode tables, so users-migrate runs it right after this file
-- in the same transaction (users_service/canonical_emails.py). Until the transaction ends, no one writes:
-- a row added meanwhile by a pod still running the old code would escape the rewrite.
LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE;
