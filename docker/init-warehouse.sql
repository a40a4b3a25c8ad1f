-- The leadflow warehouse beside Airflow's metadata database (run once by the postgres image).
create user leadflow with password 'leadflow';
create database leadflow owner leadflow;
