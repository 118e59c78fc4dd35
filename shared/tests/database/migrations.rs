use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

#[sqlx::test(migrations = false)]
async fn concurrent_migration_runs_apply_each_migration_once(db: PgPool) {
    let options = db.connect_options().as_ref().clone();
    let first = PgPoolOptions::new()
        .max_connections(1)
        .connect_lazy_with(options.clone());
    let second = PgPoolOptions::new()
        .max_connections(1)
        .connect_lazy_with(options);

    let (a, b) = tokio::join!(
        shared::db::MIGRATOR.run(&first),
        shared::db::MIGRATOR.run(&second)
    );

    a.unwrap();
    b.unwrap();
    let applied: i64 = sqlx::query_scalar("select count(*) from _sqlx_migrations where success")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(applied as usize, shared::db::MIGRATOR.iter().count());
}
