//! A fresh, empty database per test: a temporary SQLite file, or a new
//! PostgreSQL database on the server named by `MACHTIGINGEN_TEST_DATABASE_URL`
//! (dropped again afterwards).

use diesel::{Connection, PgConnection, RunQueryDsl};

pub const ENV: &str = "MACHTIGINGEN_TEST_DATABASE_URL";

pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
}

/// The PostgreSQL server URL under test, when the suite runs on PostgreSQL.
pub fn postgres_url() -> Option<String> {
    std::env::var(ENV)
        .ok()
        .filter(|u| u.starts_with("postgres"))
}

/// `postgres://u@h:p/db?x` with the database name replaced.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let prefix = match base.rfind('/') {
        Some(i) if i > "postgres://".len() => &base[..i],
        _ => base,
    };
    match query {
        Some(q) => format!("{prefix}/{name}?{q}"),
        None => format!("{prefix}/{name}"),
    }
}

impl TestDb {
    /// A fresh database with the migrations applied, and a pool on it.
    pub async fn migrated() -> (Self, machtigingen::db::Db) {
        let t = Self::create().await;
        let db = machtigingen::db::Db::open(
            &machtigingen::config::Config::from_toml_str(&format!(
                "[database]\nurl = \"{}\"",
                t.url
            ))
            .unwrap()
            .database,
        )
        .unwrap();
        db.migrate().unwrap();
        (t, db)
    }

    pub async fn create() -> Self {
        match postgres_url() {
            Some(admin) => tokio::task::spawn_blocking(move || Self::create_pg(&admin))
                .await
                .unwrap(),
            None => {
                let dir = tempfile::Builder::new().prefix("mt-db-").tempdir().unwrap();
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                Self {
                    url,
                    _dir: Some(dir),
                    pg: None,
                }
            }
        }
    }

    /// A fresh PostgreSQL database on `admin`'s server, whatever the suite's backend.
    pub async fn create_postgres(admin: String) -> Self {
        tokio::task::spawn_blocking(move || Self::create_pg(&admin))
            .await
            .unwrap()
    }

    fn create_pg(admin: &str) -> Self {
        let mut bytes = [0u8; 6];
        openssl::rand::rand_bytes(&mut bytes).unwrap();
        let name = format!("mt_{}", hex::encode(bytes));
        let mut conn = PgConnection::establish(admin)
            .unwrap_or_else(|e| panic!("{ENV}={admin}: cannot connect to PostgreSQL: {e}"));
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .unwrap();
        Self {
            url: with_database(admin, &name),
            _dir: None,
            pg: Some((admin.to_owned(), name)),
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.pg.take() {
            if let Ok(mut conn) = PgConnection::establish(&admin) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn);
            }
        }
    }
}
