//! Datastore semantics (1.7.4's `SQLAlchemyUserDatastore`), on every backend.

use security::{DatastoreError, NewUser, SecurityRole, SecurityUser};
use security_tests::{Backend, TestApp, backend_tests};

async fn find_user_is_exact_and_case_insensitive(backend: Backend) {
    let app = TestApp::new(&backend, &[]).await;
    let store = app.security.datastore();
    let matt = store
        .find_user_by_email("MATT@lp.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(matt.email, "matt@lp.com");
    for probe in [
        "%",
        "%@lp.com",
        "m_tt@lp.com",
        "matt@lp.co",
        "1",
        "' OR 1=1 --",
    ] {
        assert!(
            store.get_user(probe).await.unwrap().is_none(),
            "`{probe}` must not find anyone"
        );
    }
    assert_eq!(
        store
            .find_user_by_id(&matt.id)
            .await
            .unwrap()
            .unwrap()
            .email,
        "matt@lp.com"
    );
}

async fn get_user_searches_identity_attributes_in_order(backend: Backend) {
    let app = TestApp::new(
        &backend,
        &[("SECURITY_USER_IDENTITY_ATTRIBUTES", "email,username")],
    )
    .await;
    let store = app.security.datastore();
    assert_eq!(
        store.get_user("matt").await.unwrap().unwrap().email,
        "matt@lp.com"
    );
    assert_eq!(
        store.get_user("JOE@lp.com").await.unwrap().unwrap().email,
        "joe@lp.com"
    );
    assert!(store.get_user("nobody").await.unwrap().is_none());
}

async fn duplicate_email_is_refused_and_changes_nothing(backend: Backend) {
    let app = TestApp::new(&backend, &[]).await;
    let store = app.security.datastore();
    let err = store
        .create_user(NewUser::new("MATT@lp.com", Some("password")))
        .await
        .unwrap_err();
    assert!(
        matches!(err, DatastoreError::DuplicateEmail { .. }),
        "{err}"
    );
    let err = store
        .create_user(NewUser::new("new@lp.com", Some("password")).role("no-such-role"))
        .await
        .unwrap_err();
    assert!(matches!(err, DatastoreError::UnknownRole { .. }), "{err}");
    assert!(
        store
            .find_user_by_email("new@lp.com")
            .await
            .unwrap()
            .is_none()
    );
}

async fn concurrent_registrations_of_one_address_create_one_user(backend: Backend) {
    let app = TestApp::new(&backend, &[]).await;
    let mut tasks = Vec::new();
    for i in 0..6 {
        let store = app.security.datastore().clone();
        let email = if i % 2 == 0 {
            "race@lp.com"
        } else {
            "RACE@lp.com"
        };
        tasks.push(tokio::spawn(async move {
            store
                .create_user(NewUser::new(email, Some("password")))
                .await
        }));
    }
    let mut created = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => created += 1,
            Err(DatastoreError::DuplicateEmail { .. }) => {}
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    assert_eq!(created, 1);
    let store = app.security.datastore();
    assert!(
        store
            .find_user_by_email("race@lp.com")
            .await
            .unwrap()
            .is_some()
    );
}

async fn roles_are_added_once_and_removed_once(backend: Backend) {
    let app = TestApp::new(&backend, &[]).await;
    let store = app.security.datastore();
    let matt = app.user("matt@lp.com").await;
    let editor = store.find_role("editor").await.unwrap().unwrap();
    assert!(store.add_role_to_user(&matt, &editor).await.unwrap());
    assert!(!store.add_role_to_user(&matt, &editor).await.unwrap());
    assert!(store.has_role(&matt, "editor").await.unwrap());
    let loaded = store.load_with_roles(&matt.id).await.unwrap().unwrap();
    assert_eq!(loaded.roles, ["admin", "editor"]);
    assert!(loaded.has_role("admin") && !loaded.has_role("Admin"));
    assert!(store.remove_role_from_user(&matt, &editor).await.unwrap());
    assert!(!store.remove_role_from_user(&matt, &editor).await.unwrap());
    assert!(store.find_role("bogus").await.unwrap().is_none());
    let found = store
        .find_or_create_role("reviewer", Some("Reviews"))
        .await
        .unwrap();
    let again = store.find_or_create_role("reviewer", None).await.unwrap();
    assert_eq!(found.id(), again.id());
    assert_eq!(again.description(), Some("Reviews"));
    assert!(matches!(
        store.create_role("admin", None).await,
        Err(DatastoreError::DuplicateRole { .. })
    ));
}

async fn a_user_with_roles_loads_in_one_query(backend: Backend) {
    let app = TestApp::new(&backend, &[]).await;
    let store = app.security.datastore();
    let dave = app.user("dave@lp.com").await;
    let loaded = store.load_with_roles(&dave.id).await.unwrap().unwrap();
    assert_eq!(loaded.user.email, "dave@lp.com");
    assert_eq!(loaded.roles, ["admin", "editor"]);
    let tiya = app.user("tiya@lp.com").await;
    assert!(
        store
            .load_with_roles(&tiya.id)
            .await
            .unwrap()
            .unwrap()
            .roles
            .is_empty()
    );
    assert!(store.load_with_roles(&-1).await.unwrap().is_none());
}

async fn activation_reports_whether_anything_changed(backend: Backend) {
    let app = TestApp::new(&backend, &[]).await;
    let store = app.security.datastore();
    let joe = app.user("joe@lp.com").await;
    assert!(!store.activate_user(&joe).await.unwrap());
    assert!(store.deactivate_user(&joe).await.unwrap());
    let joe = app.user("joe@lp.com").await;
    assert!(!joe.active);
    assert!(!store.deactivate_user(&joe).await.unwrap());
    assert!(store.toggle_active(&joe).await.unwrap());
    let joe = app.user("joe@lp.com").await;
    assert!(joe.active);
    assert!(store.toggle_active(&joe).await.unwrap());
    assert!(!app.user("joe@lp.com").await.active);
}

async fn deleting_a_user_removes_its_role_links(backend: Backend) {
    let app = TestApp::new(&backend, &[]).await;
    let store = app.security.datastore();
    let dave = app.user("dave@lp.com").await;
    store.delete_user(&dave).await.unwrap();
    assert!(
        store
            .find_user_by_email("dave@lp.com")
            .await
            .unwrap()
            .is_none()
    );
    // a new user that gets the same row id inherits no roles
    use sea_orm::{EntityTrait, PaginatorTrait};
    let links = security_tests::entities::roles_users::Entity::find()
        .count(store.connection())
        .await
        .unwrap();
    assert_eq!(
        links, 3,
        "matt, joe and jill keep theirs; dave's two are gone"
    );
}

async fn create_user_hashes_the_password(backend: Backend) {
    let app = TestApp::new(&backend, &[("SECURITY_PASSWORD_HASH", "argon2")]).await;
    let store = app.security.datastore();
    let user = store
        .create_user(NewUser::new("hash@lp.com", Some("secret-pw")))
        .await
        .unwrap();
    let stored = user.password().unwrap();
    assert!(stored.starts_with("$argon2id$"), "{stored}");
    assert!(
        app.security
            .passwords()
            .verify("secret-pw", stored)
            .await
            .unwrap()
    );
    assert!(
        user.fs_uniquifier.is_some(),
        "a uniquifier is set at creation"
    );
}

async fn login_tracking_updates_every_column_atomically(backend: Backend) {
    let app = TestApp::new(&backend, &[]).await;
    let store = app.security.datastore();
    let matt = app.user("matt@lp.com").await;
    let t1 = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
    let t2 = chrono::DateTime::from_timestamp(1_700_000_100, 0).unwrap();
    store.track_login(&matt, "untrackable", t1).await.unwrap();
    store.track_login(&matt, "127.0.0.1", t2).await.unwrap();
    let matt = app.user("matt@lp.com").await;
    assert_eq!(matt.last_login_ip.as_deref(), Some("untrackable"));
    assert_eq!(matt.current_login_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(matt.last_login_at, Some(t1));
    assert_eq!(matt.current_login_at, Some(t2));
    assert_eq!(matt.login_count, Some(2));
}

backend_tests!(
    find_user_is_exact_and_case_insensitive,
    get_user_searches_identity_attributes_in_order,
    duplicate_email_is_refused_and_changes_nothing,
    concurrent_registrations_of_one_address_create_one_user,
    roles_are_added_once_and_removed_once,
    a_user_with_roles_loads_in_one_query,
    activation_reports_whether_anything_changed,
    deleting_a_user_removes_its_role_links,
    create_user_hashes_the_password,
    login_tracking_updates_every_column_atomically,
);

/// Two instances creating the runtime tables at once on an empty PostgreSQL database take
/// turns (PostgreSQL's `CREATE … IF NOT EXISTS` alone collides on its catalog).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(security_test_postgres),
    ignore = "set SECURITY_TEST_POSTGRES_URL to run it on PostgreSQL"
)]
async fn two_instances_create_the_runtime_tables_at_once() {
    use sea_orm::ConnectionTrait;
    let test = security_tests::TestDb::new(&Backend::postgres()).await;
    let other = sea_orm::Database::connect(test.url())
        .await
        .expect("second pool");
    for _ in 0..5 {
        test.db
            .execute_unprepared(
                "DROP TABLE IF EXISTS security_used_token, security_revocation, \
                 security_outbox, security_flask_account, security_throttle",
            )
            .await
            .expect("drop");
        let (a, b) = tokio::join!(
            security::schema::create_tables(&test.db),
            security::schema::create_tables(&other)
        );
        a.expect("first instance");
        b.expect("second instance");
    }
    other.close().await.expect("close");
}
