//! `Db`: the pool the functions use, and what keeps it working through what the cloud does to
//! a connection (a transaction-mode pooler in between, a rotated password).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use futures_util::stream::{self, BoxStream};
use futures_util::{StreamExt, TryStreamExt};
use secrecy::ExposeSecret;
use sqlx::error::BoxDynError;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgArguments, PgQueryResult, PgRow, PgStatement, PgTypeInfo};
use sqlx::{Connection, Either, Execute, Executor, PgPool, Postgres};
use tokio::sync::Mutex;

use crate::config::{DatabaseConfig, RdsSecret};
use crate::secrets::Secrets;

/// The database refused the password (SQLSTATE 28P01): after a rotation, until the new one is
/// read.
const REFUSED_PASSWORD: &str = "28P01";
/// A refused password makes an instance read the secret again at most this often: rotation
/// changes the password before the secret's current version, so a read inside that window
/// still gets the old one and the next try must not wait long.
const MIN_REREAD_INTERVAL: Duration = Duration::from_secs(5);

/// The functions' handle on PostgreSQL. Store functions take it as their executor.
///
/// - **Behind a transaction-mode pooler** (`DATABASE_POOLER=transaction`: RDS Proxy, PgBouncer)
///   a server connection is ours only until a transaction ends. sqlx prepares a statement in
///   one exchange and runs it in the next, and names and caches what it prepared: the pooler
///   may hand the second exchange to another server, where that statement does not exist, and
///   RDS Proxy pins the session of a client that names statements. So there every statement is
///   unnamed and runs in a transaction of its own. That costs three more round trips than
///   connecting directly, where statements stay named and cached (one round trip).
/// - **A rotated password**: a connection opened after the database's password changed is
///   refused (28P01). The secret the password came from is then read again (at most once per
///   `MIN_REREAD_INTERVAL`) and the connection retried once, so a warm instance keeps working
///   without a cold start.
#[derive(Clone)]
pub struct Db {
    pool: PgPool,
    behind_pooler: bool,
    rotation: Option<Arc<Rotation>>,
}

/// Where the password came from, to read it again.
struct Rotation {
    secrets: Secrets,
    arn: String,
    last_read: Mutex<Option<Instant>>,
}

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Db")
            .field("pool", &self.pool)
            .field("behind_pooler", &self.behind_pooler)
            .field("rotation", &self.rotation.as_ref().map(|r| &r.arn))
            .finish()
    }
}

impl From<PgPool> for Db {
    /// A direct connection whose password does not rotate (tests, local development).
    fn from(pool: PgPool) -> Self {
        Self {
            pool,
            behind_pooler: false,
            rotation: None,
        }
    }
}

impl Db {
    /// The lazy pool of `config` (see `db::pool`); `secrets` reads the database secret again
    /// when the password was rotated, if the password came from one.
    pub fn new(config: &DatabaseConfig, secrets: Secrets) -> Self {
        Self {
            pool: super::pool(config),
            behind_pooler: config.behind_pooler,
            rotation: config.secret_arn.clone().map(|arn| {
                Arc::new(Rotation {
                    secrets,
                    arn,
                    last_read: Mutex::new(None),
                })
            }),
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// A connection from the pool; a refused password is read again from its secret once. How
    /// long it took is the `DatabaseAcquireTime` metric.
    pub async fn acquire(&self) -> Result<PoolConnection<Postgres>, sqlx::Error> {
        let started = Instant::now();
        let acquired = self.acquire_once_reread().await;
        if acquired.is_ok() {
            crate::metrics::database_acquired(started.elapsed());
        }
        acquired
    }

    async fn acquire_once_reread(&self) -> Result<PoolConnection<Postgres>, sqlx::Error> {
        match self.pool.acquire().await {
            Err(err) if refused_password(&err) => match &self.rotation {
                Some(rotation) if rotation.reread(&self.pool).await => self.pool.acquire().await,
                _ => Err(err),
            },
            other => other,
        }
    }
}

fn refused_password(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .and_then(|db| db.code())
        .is_some_and(|code| code == REFUSED_PASSWORD)
}

impl Rotation {
    /// Reads the secret again and gives the pool its credentials; `false` when that failed.
    /// Concurrent callers wait for one read; one that comes within `MIN_REREAD_INTERVAL` of the
    /// last read just retries with what that read found.
    async fn reread(&self, pool: &PgPool) -> bool {
        let mut last_read = self.last_read.lock().await;
        if last_read.is_some_and(|at| at.elapsed() < MIN_REREAD_INTERVAL) {
            return true;
        }
        *last_read = Some(Instant::now());
        let secret = match self.secrets.fetch(&self.arn).await {
            Ok(secret) => secret,
            Err(err) => {
                tracing::error!(error = %err, "db: the password was refused and the secret could not be read again");
                return false;
            }
        };
        match RdsSecret::parse(&self.arn, &secret) {
            Ok(fresh) => {
                let options = (*pool.connect_options())
                    .clone()
                    .username(&fresh.username)
                    .password(fresh.password.expose_secret());
                pool.set_connect_options(options);
                tracing::warn!(arn = %self.arn, "db: the password was refused; read the secret again");
                true
            }
            Err(err) => {
                tracing::error!(error = %err, "db: the password was refused and the secret is unusable");
                false
            }
        }
    }
}

/// A query sent as an unnamed statement, which nothing caches.
struct Unnamed<E>(E);

impl<'q, E: Execute<'q, Postgres>> Execute<'q, Postgres> for Unnamed<E> {
    fn sql(&self) -> &'q str {
        self.0.sql()
    }

    fn statement(&self) -> Option<&PgStatement<'q>> {
        self.0.statement()
    }

    fn take_arguments(&mut self) -> Result<Option<PgArguments>, BoxDynError> {
        self.0.take_arguments()
    }

    fn persistent(&self) -> bool {
        false
    }
}

impl Db {
    /// Runs `query` on one connection: as it is when connected directly, or unnamed inside a
    /// transaction of its own behind a pooler. Rows are collected before they are returned, so
    /// the transaction ends before the caller sees them.
    async fn run<'q, E>(&self, query: E) -> Result<Vec<Either<PgQueryResult, PgRow>>, sqlx::Error>
    where
        E: 'q + Execute<'q, Postgres>,
    {
        let mut conn = self.acquire().await?;
        if !self.behind_pooler {
            return conn.fetch_many(query).try_collect().await;
        }
        let mut transaction = conn.begin().await?;
        let outcome: Result<Vec<_>, _> = transaction.fetch_many(Unnamed(query)).try_collect().await;
        match outcome {
            Ok(items) => {
                transaction.commit().await?;
                Ok(items)
            }
            Err(err) => {
                // Now, not when the connection is next used: until then the pooler would keep
                // a server connection in the failed transaction.
                let _ = transaction.rollback().await;
                Err(err)
            }
        }
    }
}

impl<'c> Executor<'c> for &'c Db {
    type Database = Postgres;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<PgQueryResult, PgRow>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        stream::once(self.run(query))
            .map_ok(|items| stream::iter(items.into_iter().map(Ok)))
            .try_flatten()
            .boxed()
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<PgRow>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        Box::pin(async move {
            let items = self.run(query).await?;
            Ok(items.into_iter().find_map(|item| item.right()))
        })
    }

    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [PgTypeInfo],
    ) -> BoxFuture<'e, Result<PgStatement<'q>, sqlx::Error>>
    where
        'c: 'e,
    {
        (&self.pool).prepare_with(sql, parameters)
    }

    fn describe<'e, 'q: 'e>(
        self,
        sql: &'q str,
    ) -> BoxFuture<'e, Result<sqlx::Describe<Postgres>, sqlx::Error>>
    where
        'c: 'e,
    {
        (&self.pool).describe(sql)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PoolConfig;
    use crate::tasks::TaskStatus;

    /// A `Db` on the test database with one connection, so every statement shares a session.
    fn db(pool: &PgPool, behind_pooler: bool) -> Db {
        let config = DatabaseConfig {
            connect: (*pool.connect_options()).clone(),
            pool: PoolConfig {
                max_connections: 1,
                acquire_timeout: Duration::from_secs(5),
                idle_timeout: Duration::from_secs(60),
            },
            behind_pooler,
            secret_arn: None,
        };
        Db::new(&config, Secrets::new(&crate::Env::default()))
    }

    /// Runs a statement with the kinds of parameters the store binds, then counts the named
    /// statements the session holds.
    async fn named_statements_after_a_query(db: &Db) -> i64 {
        let (status, versions): (TaskStatus, Vec<i64>) =
            sqlx::query_as("select $1::text, $2::bigint[]")
                .bind(TaskStatus::InProgress)
                .bind(&[3_i64, 4][..])
                .fetch_one(db)
                .await
                .unwrap();
        assert_eq!((status, versions), (TaskStatus::InProgress, vec![3, 4]));
        sqlx::query_scalar("select count(*) from pg_prepared_statements")
            .fetch_one(db)
            .await
            .unwrap()
    }

    #[sqlx::test(migrator = "crate::db::MIGRATOR")]
    async fn behind_a_pooler_no_statement_is_named(pool: PgPool) {
        assert_eq!(named_statements_after_a_query(&db(&pool, true)).await, 0);
    }

    #[sqlx::test(migrator = "crate::db::MIGRATOR")]
    async fn connected_directly_statements_are_named_and_cached(pool: PgPool) {
        assert!(named_statements_after_a_query(&db(&pool, false)).await > 0);
    }
}
