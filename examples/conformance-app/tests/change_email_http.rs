//! Flask-Security 5.9's change of e-mail address on the real `conformance-app serve`, over
//! HTTP, as the black-box suite drives it: `SECURITY_CHANGE_EMAIL` from the environment, the
//! page, the request, the mail to the new address, the link, and `users set-email`.

mod support;

use support::{App, PASSWORD, SmtpSink, decode_mail, session_cookie, wait_until};

const EMAIL: &str = "matt@lp.com";
const NEW: &str = "new@lp.com";

#[test]
fn change_email_over_http() {
    let sink = SmtpSink::start();
    let mail_port = sink.port.to_string();
    let app = App::new(&[
        ("SECURITY_CHANGE_EMAIL", "true"),
        ("SECURITY_CHANGE_EMAIL_WITHIN", "30 minutes"),
        ("MAIL_PORT", &mail_port),
    ]);
    app.create_user(EMAIL);
    let server = app.serve();
    let login = server.post_form("/login", &[], &format!("email={EMAIL}&password={PASSWORD}"));
    assert_eq!(login.status, 302, "{}", login.body);
    let cookie = session_cookie(&login).expect("a session");
    let session = [("Cookie", cookie.as_str())];

    let page = server.get("/change-email", &session);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<h1>Change Email</h1>"), "{}", page.body);
    assert!(page.body.contains("name=\"email\""), "{}", page.body);
    let r = server.get(
        "/change-email",
        &[("Cookie", cookie.as_str()), ("Accept", "application/json")],
    );
    assert_eq!(r.json()["response"]["current_email"], EMAIL);

    let r = server.post_form("/change-email", &session, "email=not-an-address");
    assert!(r.body.contains("Invalid email address"), "{}", r.body);
    let r = server.post_form("/change-email", &session, "email=new%40lp.com");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body.contains(
            "Instructions to confirm your new email address have been sent to new@lp.com."
        ),
        "{}",
        r.body
    );
    let mail = decode_mail(&sink.first_mail());
    assert!(
        mail.contains("Subject: Confirm your new email address"),
        "{mail}"
    );
    assert!(mail.to_lowercase().contains("to: new@lp.com"), "{mail}");
    assert!(
        mail.contains("This link will expire in 30 minutes."),
        "{mail}"
    );
    assert!(
        mail.contains("Your currently registered email is matt@lp.com."),
        "{mail}"
    );
    let prefix = format!("http://127.0.0.1:{}/change-email/", server.port);
    let link = mail
        .split(|c: char| c.is_whitespace() || "\"'<>".contains(c))
        .find(|word| word.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no change-email link in:\n{mail}"))
        .trim_start_matches(&format!("http://127.0.0.1:{}", server.port))
        .to_owned();

    // The link needs no login; it changes the address once.
    let r = server.get(&link, &[]);
    assert_eq!(r.status, 302, "{}", r.body);
    assert_eq!(r.header("location"), Some("/"));
    let flashed = session_cookie(&r).expect("the flash");
    let home = server.get("/", &[("Cookie", flashed.as_str())]);
    assert!(
        home.body.contains("Change of email address confirmed"),
        "{}",
        home.body
    );
    let shown = app.cli(&["users", "show", NEW]);
    assert!(shown.contains("\"confirmed_at\": \""), "{shown}");
    let again = server.get(&link, &[]);
    assert_eq!(again.status, 302);
    assert_eq!(again.header("location"), Some("/change-email"));
    // The old address is told.
    let to_old = || {
        sink.mails()
            .into_iter()
            .map(|m| decode_mail(&m))
            .find(|m| m.to_lowercase().contains("to: matt@lp.com"))
    };
    assert!(
        wait_until(std::time::Duration::from_secs(10), || to_old().is_some()),
        "no notice to the old address"
    );
    let notice = to_old().expect("the notice");
    assert!(
        notice.contains("Subject: Your email address has been changed"),
        "{notice}"
    );
    assert!(notice.contains("n***@lp.com"), "{notice}");

    // The administrator's verb.
    let out = app.cli(&["users", "set-email", NEW, "other@lp.com"]);
    assert!(out.contains("other@lp.com"), "{out}");
    app.create_user("joe@lp.com");
    let refused = app
        .command(&["users", "set-email", "other@lp.com", "joe@lp.com"])
        .output()
        .expect("the cli runs");
    assert!(!refused.status.success());
    let refused = app
        .command(&["users", "set-email", "other@lp.com", "nope"])
        .output()
        .expect("the cli runs");
    assert!(!refused.status.success());
}
