-- One database per service (DESIGN.md, decision 1), made on the first start of an empty volume.
-- Mounted into /docker-entrypoint-initdb.d by docker-compose.yml; the postgres image runs it
-- once, as POSTGRES_USER (teke), which then owns the databases. It does not run again
-- on a volume that already holds data: add a database to an existing volume by hand.
-- Ref: https://hub.docker.com/_/postgres (section "Initialization scripts")
-- Each migrate job then creates its service's tables with Alembic.

CREATE DATABASE teke_registry;
CREATE DATABASE teke_indicators;
CREATE DATABASE teke_comms;
CREATE DATABASE teke_gateway;
