-- The list endpoint filters on name and surname case-insensitively.
CREATE INDEX users_lower_name_idx ON users (lower(name));
CREATE INDEX users_lower_surname_idx ON users (lower(surname));
