//! A fresh PostgreSQL database per test, or a printed reason to skip.

use sqlx::Connection;

/// The server to test against: `SEAMWORK_TEST_POSTGRES` (`.ci/run` sets it),
/// else `DATABASE_URL`.
pub fn server_url() -> Option<String> {
    std::env::var("SEAMWORK_TEST_POSTGRES")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .ok()
        .filter(|u| !u.trim().is_empty())
}

/// Creates an empty database named after `tag` and returns its URL; `None`
/// (with the reason printed) when no server is configured.
pub async fn fresh_database(tag: &str) -> Option<String> {
    let Some(server) = server_url() else {
        println!(
            "SKIPPED: no PostgreSQL configured (set SEAMWORK_TEST_POSTGRES=postgres://user:pass@127.0.0.1/postgres; .ci/run does)"
        );
        return None;
    };
    let name = format!(
        "seamwork_{tag}_{}_{}",
        std::process::id(),
        fastrand::u32(..)
    );
    let mut admin = sqlx::PgConnection::connect(&server)
        .await
        .expect("connect to the test server");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("create the test database");
    let (base, _) = server.rsplit_once('/').expect("a URL with a database path");
    Some(format!("{base}/{name}"))
}

/// Drops a database made by [`fresh_database`] (after a passing test; a
/// failing one leaves it for a look).
pub async fn drop_database(url: &str) {
    let (Some(server), Some((_, name))) = (server_url(), url.rsplit_once('/')) else {
        return;
    };
    let mut admin = sqlx::PgConnection::connect(&server)
        .await
        .expect("connect to the test server");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await
    .expect("drop the test database");
}
