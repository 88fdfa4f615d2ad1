import psycopg

conn = psycopg.connect("postgresql://web@db:5432/web")
