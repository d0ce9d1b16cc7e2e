-- Run once by the postgres image on an empty data volume (/docker-entrypoint-initdb.d), as POSTGRES_USER.
-- The image itself creates POSTGRES_DB (`audit`: the API's decisions); MLflow gets a database of its own.
CREATE DATABASE mlflow;
