-- Logged-in web sessions. The cookie holds a random id; only its SHA-256 is kept here, so a
-- copy of the database gives no live cookie. `password_fingerprint` is the SHA-256 of the
-- user's argon2 hash at login: a session of a user whose hash changed, or who is no longer in
-- `[users]`, is refused. Anonymous visitors have no row (their cookie is signed instead).
CREATE TABLE web_sessions (
    id_hash TEXT PRIMARY KEY,
    user_name TEXT NOT NULL,
    csrf TEXT NOT NULL,
    password_fingerprint TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX web_sessions_expiry ON web_sessions (expires_at);
CREATE INDEX web_sessions_user ON web_sessions (user_name, expires_at);
