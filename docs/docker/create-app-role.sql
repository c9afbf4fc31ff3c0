-- The application role of docker-compose.yml: login only; `canary-stream db upgrade` (run as
-- the owner) grants it exactly what data-model.md allows.
CREATE ROLE canary_app WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD 'canary_app';
ALTER ROLE canary_owner CREATEDB;
