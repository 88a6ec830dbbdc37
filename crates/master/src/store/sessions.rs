//! Logged-in web sessions (table `web_sessions`). A session is found by the id its cookie
//! carries, but only the id's SHA-256 is stored: whoever reads the database gets no cookie.
//! Expired rows are deleted whenever a session is added, and a user keeps at most
//! [`MAX_SESSIONS_PER_USER`], so the table stays small without a timer.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row};

use super::{now_millis, Store, StoreError};

/// Sessions one user keeps; logging in again beyond ends the ones that expire first.
pub const MAX_SESSIONS_PER_USER: i64 = 50;

/// A session to store.
#[derive(Debug, Clone, Copy)]
pub struct NewWebSession<'a> {
    /// The id the cookie carries (stored as its SHA-256 only).
    pub id: &'a str,
    /// The logged-in user.
    pub user: &'a str,
    /// The token its forms carry.
    pub csrf: &'a str,
    /// The fingerprint of the user's password hash at login.
    pub password_fingerprint: &'a str,
    /// When it ends, ms since the epoch.
    pub expires_at: i64,
}

/// A stored session, not expired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSessionRecord {
    /// The logged-in user.
    pub user: String,
    /// The token its forms carry.
    pub csrf: String,
    /// The fingerprint of the user's password hash at login.
    pub password_fingerprint: String,
    /// When it ends, ms since the epoch.
    pub expires_at: i64,
}

/// What the table keeps of a session id.
fn id_hash(id: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(id.as_bytes()))
}

async fn purge_expired(conn: &mut AnyConnection, now: i64) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM web_sessions WHERE expires_at <= $1")
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn insert(
    conn: &mut AnyConnection,
    session: &NewWebSession<'_>,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO web_sessions \
         (id_hash, user_name, csrf, password_fingerprint, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id_hash(session.id))
    .bind(session.user)
    .bind(session.csrf)
    .bind(session.password_fingerprint)
    .bind(now)
    .bind(session.expires_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Ends the sessions of `user` beyond the [`MAX_SESSIONS_PER_USER`] that last longest.
async fn trim_user(conn: &mut AnyConnection, user: &str) -> Result<(), StoreError> {
    sqlx::query(
        "DELETE FROM web_sessions WHERE user_name = $1 AND id_hash NOT IN \
         (SELECT id_hash FROM web_sessions WHERE user_name = $1 \
          ORDER BY expires_at DESC LIMIT $2)",
    )
    .bind(user)
    .bind(MAX_SESSIONS_PER_USER)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn find(
    conn: &mut AnyConnection,
    id: &str,
    now: i64,
) -> Result<Option<WebSessionRecord>, StoreError> {
    let row = sqlx::query(
        "SELECT user_name, csrf, password_fingerprint, expires_at FROM web_sessions \
         WHERE id_hash = $1 AND expires_at > $2",
    )
    .bind(id_hash(id))
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        Ok(WebSessionRecord {
            user: r.try_get(0)?,
            csrf: r.try_get(1)?,
            password_fingerprint: r.try_get(2)?,
            expires_at: r.try_get(3)?,
        })
    })
    .transpose()
}

impl Store {
    /// Stores a new logged-in session; drops expired ones and the user's oldest beyond
    /// [`MAX_SESSIONS_PER_USER`].
    pub async fn add_web_session(&self, session: &NewWebSession<'_>) -> Result<(), StoreError> {
        let now = now_millis();
        let mut tx = self.write_transaction().await?;
        purge_expired(&mut tx, now).await?;
        insert(&mut tx, session, now).await?;
        trim_user(&mut tx, session.user).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The session of cookie id `id`, unless it ended or expired.
    pub async fn web_session(&self, id: &str) -> Result<Option<WebSessionRecord>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        find(&mut conn, id, now_millis()).await
    }

    /// Ends the session of cookie id `id` (logout, or a user who may no longer log in).
    pub async fn end_web_session(&self, id: &str) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        sqlx::query("DELETE FROM web_sessions WHERE id_hash = $1")
            .bind(id_hash(id))
            .execute(&mut *conn)
            .await?;
        Ok(())
    }
}
