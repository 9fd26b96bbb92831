-- 0008: where each master serves its API (CrawlManager).
--
-- A standby answers API calls with the leader's id and this address, so a
-- client goes to the leader. '' when unknown (a master older than this, or
-- one with the API off).
ALTER TABLE masters ADD COLUMN api_addr text NOT NULL DEFAULT '';
