-- The CEL table for Asterisk's cel_pgsql (dialplan/cel_pgsql.conf), which callagent reads
-- back (CALLAGENT_CEL_URL=postgresql://callagent_ro:...@host/asterisk, read-only).
-- cel_pgsql fills the columns it knows by name; callagent needs eventtype, eventtime,
-- channame, uniqueid and linkedid, and reads cid_num, cid_name, exten, context, appname,
-- appdata, peer and extra when present. Run once as the table's owner:
--   psql -d asterisk -f cel_pgsql.sql
CREATE TABLE IF NOT EXISTS cel (
    id          bigserial PRIMARY KEY,
    eventtype   text NOT NULL DEFAULT '',
    eventtime   timestamp NOT NULL,          -- UTC: usegmtime = yes in cel_pgsql.conf
    userdeftype text NOT NULL DEFAULT '',
    cid_name    text NOT NULL DEFAULT '',
    cid_num     text NOT NULL DEFAULT '',
    cid_ani     text NOT NULL DEFAULT '',
    cid_rdnis   text NOT NULL DEFAULT '',
    cid_dnid    text NOT NULL DEFAULT '',
    exten       text NOT NULL DEFAULT '',
    context     text NOT NULL DEFAULT '',
    channame    text NOT NULL DEFAULT '',
    appname     text NOT NULL DEFAULT '',
    appdata     text NOT NULL DEFAULT '',
    amaflags    integer NOT NULL DEFAULT 0,
    accountcode text NOT NULL DEFAULT '',
    peeraccount text NOT NULL DEFAULT '',
    uniqueid    text NOT NULL DEFAULT '',
    linkedid    text NOT NULL DEFAULT '',
    userfield   text NOT NULL DEFAULT '',
    peer        text NOT NULL DEFAULT '',
    extra       text NOT NULL DEFAULT ''
);
-- callagent asks for the linkedids with events since a moment, then for their rows
CREATE INDEX IF NOT EXISTS cel_eventtime ON cel (eventtime);
CREATE INDEX IF NOT EXISTS cel_linkedid ON cel (linkedid);
