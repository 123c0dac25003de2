//! E-mail: the shape of every mail, subjects, absolute links, addresses that could
//! inject headers, a real SMTP round trip through `SmtpTransport` to a sink in the test, SMTP
//! failure, and the `send_mail_task` hook.

use std::sync::{Arc, Mutex};

use http::StatusCode;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use security::mail::{EmailKind, MailError, MailSettings, OutgoingMail, SmtpTransport};
use security_tests::{Backend, Client, Mail, Resp, TestApp, backend_tests, has_flash};

const NEW: &str = "new@lp.com";
const CONFIRMABLE: &[(&str, &str)] = &[
    ("SECURITY_REGISTERABLE", "true"),
    ("SECURITY_CONFIRMABLE", "true"),
];
const MAIL_FAILED: &str = "The email could not be sent. Please try again later.";

async fn register(c: &mut Client, email: &str) -> Resp {
    c.post_form(
        "/register",
        &[
            ("email", email),
            ("password", "password"),
            ("password_confirm", "password"),
        ],
    )
    .await
}

// --- A tiny SMTP server -------------------------------------------------------------------------

/// One message as the SMTP sink received it.
#[derive(Clone, Debug)]
struct Received {
    mail_from: String,
    rcpt_to: Vec<String>,
    data: Vec<u8>,
}

/// An SMTP server on 127.0.0.1 that accepts every message and keeps it.
struct SmtpSink {
    port: u16,
    received: Arc<Mutex<Vec<Received>>>,
}

impl SmtpSink {
    async fn start() -> SmtpSink {
        SmtpSink::on(TcpListener::bind("127.0.0.1:0").await.expect("bind"))
    }

    fn on(listener: TcpListener) -> SmtpSink {
        let port = listener.local_addr().expect("address").port();
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let store = Arc::clone(&received);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    let _ = serve_smtp(stream, store).await;
                });
            }
        });
        SmtpSink { port, received }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    fn mails(&self) -> Vec<Mail> {
        self.received()
            .iter()
            .map(|r| Mail::from_raw(&r.data))
            .collect()
    }
}

async fn serve_smtp(stream: TcpStream, store: Arc<Mutex<Vec<Received>>>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    write.write_all(b"220 sink.test ESMTP ready\r\n").await?;
    let mut mail_from = String::new();
    let mut rcpt_to = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let line = line.trim_end().to_owned();
        let upper = line.to_ascii_uppercase();
        let argument = |prefix: &str| {
            line[prefix.len()..]
                .trim()
                .trim_start_matches('<')
                .split('>')
                .next()
                .unwrap_or("")
                .to_owned()
        };
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-sink.test\r\n250 8BITMIME\r\n"
        } else if upper.starts_with("HELO") {
            b"250 sink.test\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            mail_from = argument("MAIL FROM:");
            rcpt_to.clear();
            b"250 OK\r\n"
        } else if upper.starts_with("RCPT TO:") {
            rcpt_to.push(argument("RCPT TO:"));
            b"250 OK\r\n"
        } else if upper == "DATA" {
            write
                .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                .await?;
            let mut data = Vec::new();
            loop {
                let mut chunk = Vec::new();
                if reader.read_until(b'\n', &mut chunk).await? == 0 {
                    return Ok(());
                }
                if chunk == b".\r\n" {
                    break;
                }
                if chunk.starts_with(b"..") {
                    chunk.remove(0); // dot-unstuffing
                }
                data.extend_from_slice(&chunk);
            }
            store.lock().unwrap().push(Received {
                mail_from: mail_from.clone(),
                rcpt_to: rcpt_to.clone(),
                data,
            });
            b"250 OK queued\r\n"
        } else if upper == "QUIT" {
            write.write_all(b"221 Bye\r\n").await?;
            return Ok(());
        } else {
            // RSET, NOOP, …
            b"250 OK\r\n"
        };
        write.write_all(reply).await?;
    }
}

fn smtp(port: u16) -> SmtpTransport {
    SmtpTransport::new(&MailSettings {
        server: "127.0.0.1".into(),
        port,
        timeout: 5,
        ..Default::default()
    })
    .unwrap()
}

/// A port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

// --- Every mail ---------------------------------------------------------------------------------

async fn every_mail_is_multipart_from_the_sender(backend: Backend) {
    let app = TestApp::new(
        &backend,
        &[
            ("SECURITY_REGISTERABLE", "true"),
            ("SECURITY_CONFIRMABLE", "true"),
            ("SECURITY_LOGIN_WITHOUT_CONFIRMATION", "true"),
            ("SECURITY_RECOVERABLE", "true"),
            ("SECURITY_CHANGEABLE", "true"),
            ("SECURITY_PASSWORDLESS", "true"),
            ("SECURITY_EMAIL_SENDER", "accounts@example.com"),
        ],
    )
    .await;
    register(&mut app.client(), NEW).await.assert_redirect("/");
    app.client().post_form("/confirm", &[("email", NEW)]).await;
    app.client()
        .post_form("/reset", &[("email", "joe@lp.com")])
        .await;
    let reset = app.mails_to("joe@lp.com")[0].link_path("/reset/");
    let mut joe = app.client();
    joe.post_form(
        &reset,
        &[
            ("password", "newpassword"),
            ("password_confirm", "newpassword"),
        ],
    )
    .await
    .assert_redirect("/");
    joe.post_form(
        "/change",
        &[
            ("password", "newpassword"),
            ("new_password", "thirdpass3"),
            ("new_password_confirm", "thirdpass3"),
        ],
    )
    .await
    .assert_redirect("/");
    app.client()
        .post_form("/login", &[("email", "matt@lp.com")])
        .await;

    let mails = app.mails();
    let mut subjects: Vec<&str> = mails.iter().map(|m| m.subject.as_str()).collect();
    subjects.sort_unstable();
    assert_eq!(
        subjects,
        vec![
            "Login instructions",
            "Password reset instructions",
            "Please confirm your email",
            "Welcome",
            "Your password has been changed",
            "Your password has been reset",
        ]
    );
    for mail in &mails {
        assert_eq!(mail.from, "accounts@example.com", "{mail:?}");
        assert!(!mail.text.trim().is_empty(), "a text part: {mail:?}");
        assert!(!mail.html.trim().is_empty(), "an HTML part: {mail:?}");
    }
    for entry in std::fs::read_dir(app.mail_dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|x| x == "eml") {
            let raw = std::fs::read_to_string(&path).unwrap();
            assert!(raw.contains("multipart/alternative"), "{raw}");
        }
    }
}

async fn mail_subjects_follow_the_configuration(backend: Backend) {
    let app = TestApp::new(
        &backend,
        &[
            ("SECURITY_REGISTERABLE", "true"),
            ("SECURITY_RECOVERABLE", "true"),
            ("SECURITY_EMAIL_SUBJECT_REGISTER", "Hello from Example"),
            (
                "SECURITY_EMAIL_SUBJECT_PASSWORD_RESET",
                "Reset it at Example",
            ),
        ],
    )
    .await;
    register(&mut app.client(), NEW).await;
    app.client()
        .post_form("/reset", &[("email", "joe@lp.com")])
        .await;
    assert_eq!(app.mails_to(NEW)[0].subject, "Hello from Example");
    assert_eq!(app.mails_to("joe@lp.com")[0].subject, "Reset it at Example");
}

async fn mail_links_are_absolute_to_an_allowed_request_host(backend: Backend) {
    let app = TestApp::new(
        &backend,
        &[
            ("SECURITY_RECOVERABLE", "true"),
            (
                "SECURITY_ALLOWED_HOSTS",
                "localhost,accounts.example.test:8443",
            ),
        ],
    )
    .await;
    let r = app
        .client()
        .post_form_with(
            "/reset",
            &[("email", "joe@lp.com")],
            &[("host", "accounts.example.test:8443")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let link = app.mails_to("joe@lp.com")[0].link("/reset/");
    assert!(
        link.starts_with("http://accounts.example.test:8443/reset/"),
        "{link}"
    );
    // the link works on this app
    let path = app.mails_to("joe@lp.com")[0].link_path("/reset/");
    assert_eq!(app.client().get(&path).await.status, StatusCode::OK);

    // A forged Host never makes the link: the victim's reset link goes to this site, not to
    // the forger's.
    let r = app
        .client()
        .post_form_with(
            "/reset",
            &[("email", "matt@lp.com")],
            &[("host", "evil.example")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let link = app.mails_to("matt@lp.com")[0].link("/reset/");
    assert!(link.starts_with("http://localhost/reset/"), "{link}");

    // with SERVER_NAME the links use it, whatever the Host header says
    let named = TestApp::new(
        &backend,
        &[
            ("SECURITY_RECOVERABLE", "true"),
            ("SERVER_NAME", "accounts.example.com"),
            ("PREFERRED_URL_SCHEME", "https"),
        ],
    )
    .await;
    named
        .client()
        .post_form_with(
            "/reset",
            &[("email", "joe@lp.com")],
            &[("host", "evil.example")],
        )
        .await;
    let link = named.mails_to("joe@lp.com")[0].link("/reset/");
    assert!(
        link.starts_with("https://accounts.example.com/reset/"),
        "{link}"
    );
}

async fn features_that_mail_links_need_a_configured_host(backend: Backend) {
    let db = security_tests::TestDb::new(&backend).await;
    for feature in [
        "SECURITY_RECOVERABLE",
        "SECURITY_CONFIRMABLE",
        "SECURITY_PASSWORDLESS",
    ] {
        let config = security::Config::from_vars([
            ("SECRET_KEY", "test-secret-key-0123456789"),
            (feature, "true"),
        ])
        .unwrap();
        let err = security::Security::<security_tests::User>::builder(db.db.clone(), config)
            .build()
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("SERVER_NAME") && err.contains("SECURITY_ALLOWED_HOSTS"),
            "{feature}: {err}"
        );
    }
    // Registration without confirmation mails no link: no host needed.
    let config = security::Config::from_vars([
        ("SECRET_KEY", "test-secret-key-0123456789"),
        ("SECURITY_REGISTERABLE", "true"),
    ])
    .unwrap();
    security::Security::<security_tests::User>::builder(db.db.clone(), config)
        .build()
        .await
        .unwrap();
}

async fn addresses_with_line_breaks_are_refused_at_registration(backend: Backend) {
    let app = TestApp::new(
        &backend,
        &[
            ("SECURITY_REGISTERABLE", "true"),
            ("SECURITY_RECOVERABLE", "true"),
        ],
    )
    .await;
    for evil in [
        "new@lp.com\r\nBcc: evil@example.com",
        "new@lp.com\nBcc: evil@example.com",
        "new@lp.com\r\n",
        "new@lp.com\rSubject: hi",
    ] {
        let r = app
            .client()
            .post_json("/register", json!({"email": evil, "password": "password"}))
            .await;
        assert_eq!(
            r.json()["response"]["errors"]["email"],
            json!(["Invalid email address"]),
            "{evil:?}"
        );
        let r = register(&mut app.client(), evil).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.body.contains("Invalid email address"), "{evil:?}");
        let store = app.security.datastore();
        assert!(store.find_user_by_email(evil).await.unwrap().is_none());
        let r = app
            .client()
            .post_json("/reset", json!({"email": evil}))
            .await;
        assert_eq!(r.json()["meta"]["code"], 400, "{evil:?}");
    }
    assert!(
        app.security
            .datastore()
            .find_user_by_email(NEW)
            .await
            .unwrap()
            .is_none()
    );
    assert!(app.mails().is_empty(), "{:#?}", app.mails());
}

// --- SMTP ---------------------------------------------------------------------------------------

async fn smtp_delivers_the_welcome_mail(backend: Backend) {
    let sink = SmtpSink::start().await;
    let port = sink.port;
    let app = TestApp::build(&backend, CONFIRMABLE, |b| b.mailer(smtp(port))).await;
    let mut c = app.client();
    register(&mut c, NEW).await.assert_redirect("/");
    app.flush_mail();
    let received = sink.received();
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0].mail_from, "no-reply@localhost");
    assert_eq!(received[0].rcpt_to, vec![NEW.to_owned()]);
    let mail = &sink.mails()[0];
    assert_eq!(mail.subject, "Welcome");
    assert_eq!(mail.from, "no-reply@localhost");
    assert!(mail.to.contains(NEW));
    assert!(mail.text.contains("Welcome new@lp.com!"), "{mail:?}");
    assert!(mail.html.contains("Confirm my account"), "{mail:?}");
    // the link that travelled over SMTP confirms the account
    c.get(&mail.link_path("/confirm/"))
        .await
        .assert_redirect("/");
    assert!(app.user(NEW).await.confirmed_at.is_some());
    assert!(app.mails().is_empty(), "nothing went to the file transport");
}

/// Waits (up to 20 s) until the sink holds `count` mails, delivering what is due meanwhile.
async fn wait_for_mail(app: &TestApp, sink: &SmtpSink, count: usize) -> Vec<Mail> {
    for _ in 0..200 {
        app.security.flush_mail().await.unwrap();
        if sink.mails().len() >= count {
            return sink.mails();
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{count} mails expected, got {:?}", sink.mails());
}

async fn mail_waits_in_the_outbox_while_the_relay_is_down(backend: Backend) {
    let port = closed_port();
    let vars = [CONFIRMABLE, &[("SECURITY_MAIL_RETRY_DELAY", "1 seconds")]].concat();
    let app = TestApp::build(&backend, &vars, |b| b.mailer(smtp(port))).await;
    // The relay is down: the registration succeeds all the same, its mail is queued.
    let mut c = app.client();
    register(&mut c, NEW).await.assert_redirect("/");
    let r = app
        .client()
        .post_json(
            "/register",
            json!({"email": "json@lp.com", "password": "password"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["meta"]["code"], 200);
    app.security.flush_mail().await.unwrap();
    assert!(!r.body.contains("SMTP"), "no internals shown: {}", r.body);

    // The relay comes back: nothing was lost.
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("the port is free again");
    let sink = SmtpSink::on(listener);
    let mails = wait_for_mail(&app, &sink, 2).await;
    let welcome = mails.iter().find(|m| m.to.contains(NEW)).unwrap();
    assert_eq!(welcome.subject, "Welcome");
    c.get(&welcome.link_path("/confirm/"))
        .await
        .assert_redirect("/");
    assert!(app.user(NEW).await.confirmed_at.is_some());
    assert!(mails.iter().any(|m| m.to.contains("json@lp.com")));
}

async fn the_answer_does_not_wait_for_a_relay_that_hangs(backend: Backend) {
    // A relay that accepts connections and never says a word.
    let hanging = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = hanging.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = hanging.accept().await {
            held.push(stream);
        }
    });
    for generic in ["false", "true"] {
        let app = TestApp::build(
            &backend,
            &[
                ("SECURITY_RECOVERABLE", "true"),
                ("SECURITY_RETURN_GENERIC_RESPONSES", generic),
            ],
            |b| b.mailer(smtp(port)),
        )
        .await;
        let mut answers = Vec::new();
        for email in ["joe@lp.com", "nobody@lp.com"] {
            let started = std::time::Instant::now();
            let r = tokio::time::timeout(
                std::time::Duration::from_secs(8),
                app.client().post_json("/reset", json!({ "email": email })),
            )
            .await
            .expect("the answer came while the relay hangs");
            assert!(started.elapsed() < std::time::Duration::from_secs(8));
            answers.push((r.status, r.body_without_csrf()));
        }
        if generic == "true" {
            assert_eq!(answers[0], answers[1], "a known and an unknown address");
            assert_eq!(answers[0].0, StatusCode::OK);
        } else {
            assert_eq!(answers[0].0, StatusCode::OK, "{}", answers[0].1);
        }
    }
}

async fn a_mail_that_cannot_be_queued_is_reported(backend: Backend) {
    let app = TestApp::new(&backend, CONFIRMABLE).await;
    sea_orm::ConnectionTrait::execute_unprepared(&app.db.db, "DROP TABLE security_outbox")
        .await
        .unwrap();
    let mut c = app.client();
    let r = register(&mut c, NEW).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
    assert!(r.body.contains(MAIL_FAILED), "{}", r.body);
    let r = app
        .client()
        .post_json(
            "/register",
            json!({"email": "json@lp.com", "password": "password"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.json()["meta"]["code"], 503);
    assert_eq!(
        r.json()["response"]["errors"]["email"],
        json!([MAIL_FAILED])
    );
    // The account exists: once mail works again, its owner asks for a new confirmation mail.
    app.user(NEW).await;
    security::schema::create_tables(&app.db.db).await.unwrap();
    let r = app.client().post_form("/confirm", &[("email", NEW)]).await;
    assert!(
        has_flash(
            &r.body,
            "info",
            "Confirmation instructions have been sent to new@lp.com."
        ),
        "{}",
        r.body
    );
    assert_eq!(app.mails_to(NEW).len(), 1);
}

async fn two_instances_never_send_one_mail_twice(backend: Backend) {
    let sent: Arc<Mutex<Vec<String>>> = Arc::default();
    let transport = |sent: Arc<Mutex<Vec<String>>>| {
        security::mail::task(move |mail: OutgoingMail| {
            let sent = Arc::clone(&sent);
            async move {
                // A slow relay, so that the two senders overlap.
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                sent.lock().unwrap().push(mail.to);
                Ok(())
            }
        })
    };
    let store = Arc::clone(&sent);
    let app = TestApp::build(&backend, &[("SECURITY_RECOVERABLE", "true")], move |b| {
        b.mailer(transport(store))
    })
    .await;
    let other = security::Security::<security_tests::User>::builder(
        app.db.db.clone(),
        app.security.config().clone(),
    )
    .mailer(transport(Arc::clone(&sent)))
    .build()
    .await
    .unwrap();
    let emails = ["matt@lp.com", "joe@lp.com", "dave@lp.com", "jill@lp.com"];
    for _ in 0..5 {
        for email in emails {
            app.client().post_form("/reset", &[("email", email)]).await;
        }
    }
    let (a, b) = tokio::join!(app.security.flush_mail(), other.flush_mail());
    a.unwrap();
    b.unwrap();
    let sent = sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 20, "each mail once: {sent:?}");
    for email in emails {
        assert_eq!(sent.iter().filter(|to| *to == email).count(), 5, "{email}");
    }
}

async fn queued_mail_is_sealed_at_rest(backend: Backend) {
    let app = TestApp::build(&backend, &[("SECURITY_RECOVERABLE", "true")], |b| {
        // A transport that never succeeds: the mail stays in the table.
        b.mailer(security::mail::task(|_mail: OutgoingMail| async {
            Err(MailError::Task("not now".into()))
        }))
    })
    .await;
    app.client()
        .post_form("/reset", &[("email", "joe@lp.com")])
        .await;
    let rows: Vec<security::schema::outbox::Model> =
        <security::schema::outbox::Entity as sea_orm::EntityTrait>::find()
            .all(&app.db.db)
            .await
            .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].kind, "reset_instructions");
    for secret in ["joe@lp.com", "/reset/", "Password reset"] {
        assert!(!rows[0].payload.contains(secret), "{secret} in clear");
    }
}

// --- send_mail_task -----------------------------------------------------------------------------

async fn send_mail_task_receives_the_built_mail(backend: Backend) {
    let seen: Arc<Mutex<Vec<OutgoingMail>>> = Arc::default();
    let store = Arc::clone(&seen);
    let app = TestApp::build(&backend, CONFIRMABLE, move |b| {
        b.mailer(security::mail::task(move |mail: OutgoingMail| {
            let store = Arc::clone(&store);
            async move {
                store.lock().unwrap().push(mail);
                Ok(())
            }
        }))
    })
    .await;
    register(&mut app.client(), NEW).await.assert_redirect("/");
    app.flush_mail();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    let mail = &seen[0];
    assert_eq!(mail.kind, EmailKind::Welcome);
    assert_eq!(mail.to, NEW);
    assert_eq!(mail.from, "no-reply@localhost");
    assert_eq!(mail.subject, "Welcome");
    assert!(mail.text.contains("Welcome new@lp.com!"));
    assert!(
        mail.text.contains("http://localhost/confirm/"),
        "{}",
        mail.text
    );
    assert!(mail.html.contains("Confirm my account"));
    assert!(app.mails().is_empty(), "the task sends, not the runtime");
    let raw = String::from_utf8(mail.message().unwrap().formatted()).unwrap();
    assert!(raw.contains("multipart/alternative"));
}

async fn a_failing_send_mail_task_is_retried(backend: Backend) {
    let failures = Arc::new(Mutex::new(0u32));
    let seen = Arc::clone(&failures);
    let app = TestApp::build(
        &backend,
        &[
            ("SECURITY_RECOVERABLE", "true"),
            ("SECURITY_MAIL_RETRY_DELAY", "1 seconds"),
        ],
        move |b| {
            b.mailer(security::mail::task(move |_mail: OutgoingMail| {
                let seen = Arc::clone(&seen);
                async move {
                    let mut n = seen.lock().unwrap();
                    *n += 1;
                    if *n < 3 {
                        Err(MailError::Task("queue is down".into()))
                    } else {
                        Ok(())
                    }
                }
            }))
        },
    )
    .await;
    let r = app
        .client()
        .post_json("/reset", json!({"email": "joe@lp.com"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(!r.body.contains("queue is down"));
    // Tried again after the delay, until it goes through; then it leaves the outbox.
    for _ in 0..100 {
        app.security.flush_mail().await.unwrap();
        if *failures.lock().unwrap() >= 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(*failures.lock().unwrap(), 3);
    app.security.flush_mail().await.unwrap();
    let left = <security::schema::outbox::Entity as sea_orm::EntityTrait>::find()
        .all(&app.db.db)
        .await
        .unwrap();
    assert!(left.is_empty(), "{left:?}");
}

backend_tests!(
    every_mail_is_multipart_from_the_sender,
    mail_subjects_follow_the_configuration,
    mail_links_are_absolute_to_an_allowed_request_host,
    features_that_mail_links_need_a_configured_host,
    addresses_with_line_breaks_are_refused_at_registration,
    smtp_delivers_the_welcome_mail,
    mail_waits_in_the_outbox_while_the_relay_is_down,
    the_answer_does_not_wait_for_a_relay_that_hangs,
    a_mail_that_cannot_be_queued_is_reported,
    queued_mail_is_sealed_at_rest,
    two_instances_never_send_one_mail_twice,
    send_mail_task_receives_the_built_mail,
    a_failing_send_mail_task_is_retried,
);
