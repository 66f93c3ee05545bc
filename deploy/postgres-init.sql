-- One database per service (DESIGN.md, decision 1), made on the first start of an empty volume.
-- Mounted into /docker-entrypoint-initdb.d by docker-compose.yml; the postgres image runs it
-- once, as POSTGRES_USER (teke), which then owns the databases. It does not run again
-- on a volume that already holds data: add a database to an existing volume by hand.
-- Ref: https://hub.docker.com/_/postgres (section "Initialization scripts")
-- Each migrate job then creates its service's tables with Alembic.

-- The registry sorts codes and ids by code point (its in-memory list index and SQL agree on
-- that only with the C collation); character classes (text search of ä, ö, å) keep the default.
CREATE DATABASE teke_registry TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C';
CREATE DATABASE teke_indicators;
CREATE DATABASE teke_comms;
CREATE DATABASE teke_gateway;
