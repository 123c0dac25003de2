//! The mail outbox: every mail the flows send is queued in the database (`security_outbox`)
//! and delivered by a background task, which retries a failed delivery with a growing delay.
//!
//! Why: a request never waits for the mail relay, so an answer cannot tell by its time or its
//! status whether a mail was sent (the enumeration-resistant mode depends on it); a relay that
//! is down loses nothing (the mail waits, the request succeeds); and a restart loses nothing
//! either. Every instance's task delivers from the same table; a mail is claimed (a lease in
//! `locked_until`) before it is sent, so two instances never send it at once. Delivery is at
//! least once: an instance that dies between sending and deleting sends again after the lease.
//!
//! The stored mail may hold a link that logs in or resets a password, so it is sealed
//! (ChaCha20-Poly1305, `ring`) under a key derived from `SECRET_KEY`: a read of the table
//! gives nothing away. After a key rotation the mail queued before it cannot be opened; it is
//! kept as failed, with a logged error.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::mail::{EmailKind, MailError, MailTransport, OutgoingMail};
use crate::store::schema::outbox;
use crate::tokens::serializer::Clock;

/// How long a sender holds a mail it claimed (seconds); a delivery is abandoned well before.
const LEASE: i64 = 300;
/// The longest a delivery may take before it counts as failed.
const SEND_TIMEOUT: Duration = Duration::from_secs(240);
/// The longest wait between two retries of a mail (seconds).
const MAX_DELAY: u64 = 3600;
/// How often a task looks for mail queued by another instance, or due again.
const POLL: Duration = Duration::from_secs(5);
/// At most this many mails per look.
const BATCH: u64 = 16;
/// `next_attempt_at` of a mail that failed for good.
const NEVER: i64 = i64::MAX / 2;
/// The kind of a decoy: queued and taken out like a mail, never sent.
const DECOY: &str = "decoy";

/// The sealed form of a mail.
#[derive(Serialize, Deserialize)]
struct Stored {
    kind: String,
    from: String,
    to: String,
    subject: String,
    text: String,
    html: String,
}

pub(crate) struct Outbox {
    db: DatabaseConnection,
    key: LessSafeKey,
    mailer: Option<Arc<dyn MailTransport>>,
    clock: Arc<dyn Clock>,
    retry_delay: u64,
    max_attempts: u32,
    wake: Notify,
    started: AtomicBool,
    /// Mail being prepared by background tasks (not queued yet): `flush` waits for it.
    preparing: std::sync::atomic::AtomicUsize,
}

/// Counts a mail being prepared in the background, from before the task is spawned until it
/// has queued its mail (or failed).
pub(crate) struct Preparing(Arc<Outbox>);

impl Drop for Preparing {
    fn drop(&mut self) {
        self.0.preparing.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Outbox {
    pub(crate) fn new(
        db: DatabaseConnection,
        secret_key: &[u8],
        mailer: Option<Arc<dyn MailTransport>>,
        clock: Arc<dyn Clock>,
        retry_delay: u64,
        max_attempts: u32,
    ) -> Arc<Self> {
        let key_bytes = crate::crypto::cookie_codec::derive_key(secret_key, "outbox");
        let key = LessSafeKey::new(
            UnboundKey::new(&CHACHA20_POLY1305, &key_bytes).expect("a 32-byte key"),
        );
        Arc::new(Outbox {
            db,
            key,
            mailer,
            clock,
            retry_delay: retry_delay.max(1),
            max_attempts: max_attempts.max(1),
            wake: Notify::new(),
            started: AtomicBool::new(false),
            preparing: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    fn seal(&self, kind: &str, plain: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).expect("the operating system's random source failed");
        let mut data = plain.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(kind.as_bytes()),
                &mut data,
            )
            .expect("ChaCha20-Poly1305 seals any message a mail can be");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        URL_SAFE_NO_PAD.encode(out)
    }

    fn open(&self, kind: &str, sealed: &str) -> Option<Vec<u8>> {
        let bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let (nonce, data) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut data = data.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(kind.as_bytes()), &mut data)
            .ok()?;
        Some(plain.to_vec())
    }

    /// Queues a mail (one `INSERT`) and wakes the sender.
    ///
    /// # Errors
    /// A database failure: the mail is not queued.
    pub(crate) async fn enqueue(self: &Arc<Self>, mail: &OutgoingMail) -> Result<(), DbErr> {
        let kind = mail.kind.template_name();
        let stored = Stored {
            kind: kind.to_owned(),
            from: mail.from.clone(),
            to: mail.to.clone(),
            subject: mail.subject.clone(),
            text: mail.text.clone(),
            html: mail.html.clone(),
        };
        let plain = serde_json::to_vec(&stored).map_err(|e| DbErr::Custom(e.to_string()))?;
        self.insert(kind, &plain).await?;
        tracing::debug!(kind, "security: mail queued");
        Ok(())
    }

    /// Seals `plain` and writes it as a row of `kind`, due now; wakes the sender.
    async fn insert(self: &Arc<Self>, kind: &str, plain: &[u8]) -> Result<(), DbErr> {
        let now = self.clock.now();
        let payload = self.seal(kind, plain);
        retry(|| async {
            outbox::Entity::insert(outbox::ActiveModel {
                kind: Set(kind.to_owned()),
                payload: Set(payload.clone()),
                attempts: Set(0),
                next_attempt_at: Set(now),
                locked_until: Set(0),
                created_at: Set(now),
                last_error: Set(None),
                ..Default::default()
            })
            .exec_without_returning(&self.db)
            .await?;
            Ok(())
        })
        .await?;
        self.start();
        self.wake.notify_one();
        Ok(())
    }

    /// Queues a decoy: a row written, claimed and deleted as a mail is, but never sent. The
    /// enumeration-resistant mode queues one where it has no mail to send, so that the
    /// database work that follows an answer (which a later request could feel, on a database
    /// with one connection) does not tell either.
    ///
    /// # Errors
    /// A database failure.
    pub(crate) async fn enqueue_decoy(self: &Arc<Self>) -> Result<(), DbErr> {
        let mut filler = vec![0u8; 1536];
        getrandom::fill(&mut filler).expect("the operating system's random source failed");
        self.insert(DECOY, &filler).await
    }

    /// Marks a mail as being prepared in the background until the guard is dropped.
    pub(crate) fn preparing(self: &Arc<Self>) -> Preparing {
        self.preparing.fetch_add(1, Ordering::AcqRel);
        Preparing(Arc::clone(self))
    }

    /// Starts the sender of this instance, once, on the current tokio runtime (if any: a
    /// program without one delivers with [`Outbox::flush`]).
    pub(crate) fn start(self: &Arc<Self>) {
        if tokio::runtime::Handle::try_current().is_err() || self.mailer.is_none() {
            return;
        }
        if self.started.swap(true, Ordering::AcqRel) {
            return;
        }
        let weak = Arc::downgrade(self);
        tokio::spawn(async move { run(weak).await });
    }

    /// Delivers every mail that is due now, here, and returns when none is left (mail that
    /// fails is rescheduled, not retried at once). Mail still being prepared in the background,
    /// and mail that another sender holds, are waited for, up to half a minute.
    ///
    /// # Errors
    /// A database failure.
    pub(crate) async fn flush(&self) -> Result<(), DbErr> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while self.preparing.load(Ordering::Acquire) > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        loop {
            while self.deliver_due().await? > 0 {}
            let held = outbox::Entity::find()
                .filter(outbox::Column::NextAttemptAt.lte(self.clock.now()))
                .count(&self.db)
                .await?;
            if held == 0 || self.mailer.is_none() || tokio::time::Instant::now() > deadline {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// [`Outbox::flush`] for the background sender: what is due, without waiting for others.
    async fn deliver_all_due(&self) -> Result<(), DbErr> {
        while self.deliver_due().await? > 0 {}
        Ok(())
    }

    /// Claims and delivers the mails due now, up to a batch; how many were tried.
    async fn deliver_due(&self) -> Result<usize, DbErr> {
        let Some(mailer) = &self.mailer else {
            return Ok(0);
        };
        let now = self.clock.now();
        let due: Vec<i64> = outbox::Entity::find()
            .select_only()
            .column(outbox::Column::Id)
            .filter(outbox::Column::NextAttemptAt.lte(now))
            .filter(outbox::Column::LockedUntil.lte(now))
            .order_by_asc(outbox::Column::Id)
            .limit(BATCH)
            .into_tuple()
            .all(&self.db)
            .await?;
        let mut tried = 0;
        for id in due {
            match self.claim(id, now).await {
                Ok(true) => {}
                Ok(false) => continue,
                // Another sender's statement on the same row (a deadlock on MySQL, a
                // serialisation failure): that sender has it, or a later pass will.
                Err(err) if crate::store::datastore::is_transient(&err) => continue,
                Err(err) => return Err(err),
            }
            let Some(row) = outbox::Entity::find_by_id(id).one(&self.db).await? else {
                continue;
            };
            tried += 1;
            self.deliver(mailer.as_ref(), row).await?;
        }
        Ok(tried)
    }

    /// Takes the mail for this sender: `false` when another one has it, or it is not due.
    async fn claim(&self, id: i64, now: i64) -> Result<bool, DbErr> {
        let result = outbox::Entity::update_many()
            .col_expr(outbox::Column::LockedUntil, Expr::value(now + LEASE))
            .filter(outbox::Column::Id.eq(id))
            .filter(outbox::Column::NextAttemptAt.lte(now))
            .filter(outbox::Column::LockedUntil.lte(now))
            .exec(&self.db)
            .await?;
        Ok(result.rows_affected == 1)
    }

    async fn deliver(&self, mailer: &dyn MailTransport, row: outbox::Model) -> Result<(), DbErr> {
        if row.kind == DECOY {
            let _ = self.open(&row.kind, &row.payload);
            return retry(|| async {
                outbox::Entity::delete_by_id(row.id).exec(&self.db).await?;
                Ok(())
            })
            .await;
        }
        let Some(mail) = self.open(&row.kind, &row.payload).and_then(|plain| {
            let stored: Stored = serde_json::from_slice(&plain).ok()?;
            Some(OutgoingMail {
                kind: EmailKind::from_template_name(&stored.kind)?,
                from: stored.from,
                to: stored.to,
                subject: stored.subject,
                text: stored.text,
                html: stored.html,
            })
        }) else {
            tracing::error!(
                id = row.id,
                kind = row.kind,
                "security: a queued mail cannot be opened (was SECRET_KEY rotated?); it stays in \
                 security_outbox as failed"
            );
            return self
                .reschedule(
                    row.id,
                    row.attempts,
                    "cannot be opened with this SECRET_KEY",
                    true,
                )
                .await;
        };
        let sent = match tokio::time::timeout(SEND_TIMEOUT, mailer.send(mail)).await {
            Ok(result) => result,
            Err(elapsed) => Err(MailError::TimedOut(elapsed)),
        };
        match sent {
            Ok(()) => {
                retry(|| async {
                    outbox::Entity::delete_by_id(row.id).exec(&self.db).await?;
                    Ok(())
                })
                .await?;
                tracing::info!(kind = row.kind, "security: mail sent");
                Ok(())
            }
            Err(err) => {
                let attempts = row.attempts.saturating_add(1);
                let give_up = u32::try_from(attempts).unwrap_or(u32::MAX) >= self.max_attempts;
                if give_up {
                    tracing::error!(kind = row.kind, attempts, error = %err, "security: mail failed for good; kept in security_outbox");
                } else {
                    tracing::warn!(kind = row.kind, attempts, error = %err, "security: mail failed; it will be tried again");
                }
                self.reschedule(row.id, row.attempts, &err.to_string(), give_up)
                    .await
            }
        }
    }

    async fn reschedule(
        &self,
        id: i64,
        attempts: i32,
        error: &str,
        give_up: bool,
    ) -> Result<(), DbErr> {
        let attempts = attempts.saturating_add(1);
        let next = if give_up {
            NEVER
        } else {
            let exponent = u32::try_from(attempts - 1).unwrap_or(0).min(20);
            let delay = self
                .retry_delay
                .saturating_mul(1u64 << exponent)
                .min(MAX_DELAY.max(self.retry_delay));
            self.clock
                .now()
                .saturating_add(i64::try_from(delay).unwrap_or(i64::MAX / 4))
        };
        let error: String = error.chars().take(500).collect();
        retry(|| async {
            outbox::Entity::update_many()
                .col_expr(outbox::Column::Attempts, Expr::value(attempts))
                .col_expr(outbox::Column::NextAttemptAt, Expr::value(next))
                .col_expr(outbox::Column::LockedUntil, Expr::value(0i64))
                .col_expr(outbox::Column::LastError, Expr::value(Some(error.clone())))
                .filter(outbox::Column::Id.eq(id))
                .exec(&self.db)
                .await?;
            Ok(())
        })
        .await
    }

    /// When the next mail that nobody holds is due (unix seconds), if any is waiting.
    async fn next_due(&self) -> Result<Option<i64>, DbErr> {
        let next: Option<Option<i64>> = outbox::Entity::find()
            .select_only()
            .column_as(outbox::Column::NextAttemptAt.min(), "next")
            .filter(outbox::Column::NextAttemptAt.lt(NEVER))
            .filter(outbox::Column::LockedUntil.lte(self.clock.now()))
            .into_tuple()
            .one(&self.db)
            .await?;
        Ok(next.flatten())
    }
}

/// Runs a statement again (up to five times) while it fails on a conflict with a concurrent
/// one (a deadlock, a serialisation failure, a busy SQLite file).
async fn retry<F, Fut>(statement: F) -> Result<(), DbErr>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<(), DbErr>>,
{
    let mut attempt = 0u64;
    loop {
        attempt += 1;
        match statement().await {
            Err(err) if attempt < 5 && crate::store::datastore::is_transient(&err) => {
                tokio::time::sleep(Duration::from_millis(5 * attempt)).await;
            }
            other => return other,
        }
    }
}

/// The sender of one instance: delivers what is due, then sleeps until the next mail is due,
/// new mail is queued here, or the poll interval passes (mail queued by another instance).
/// Stops when the runtime that owns the outbox is dropped.
async fn run(outbox: Weak<Outbox>) {
    loop {
        let Some(this) = outbox.upgrade() else {
            return;
        };
        if let Err(err) = this.deliver_all_due().await {
            tracing::warn!(error = %err, "security: the mail outbox could not be read; retrying");
        }
        let wait = match this.next_due().await {
            Ok(Some(at)) => {
                let seconds = at.saturating_sub(this.clock.now()).max(0);
                Duration::from_secs(u64::try_from(seconds).unwrap_or(0)).min(POLL)
            }
            _ => POLL,
        };
        tokio::select! {
            () = this.wake.notified() => {}
            () = tokio::time::sleep(wait.max(Duration::from_millis(50))) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn outbox(secret: &[u8]) -> Arc<Outbox> {
        let db = sea_orm::Database::connect("sqlite::memory:").await.unwrap();
        Outbox::new(
            db,
            secret,
            None,
            Arc::new(crate::tokens::serializer::SystemClock),
            30,
            3,
        )
    }

    #[tokio::test]
    async fn sealed_mail_opens_with_its_key_and_kind_only() {
        let outbox = outbox(b"a secret key, long enough").await;
        let sealed = outbox.seal("reset_instructions", b"http://x/reset/token");
        assert!(!sealed.contains("token"));
        assert_eq!(
            outbox.open("reset_instructions", &sealed).as_deref(),
            Some(&b"http://x/reset/token"[..])
        );
        assert_eq!(outbox.open("welcome", &sealed), None, "bound to its kind");
        assert_ne!(
            sealed,
            outbox.seal("reset_instructions", b"http://x/reset/token"),
            "a nonce each time"
        );
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 1;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert_eq!(outbox.open("reset_instructions", &tampered), None);
        let other = self::outbox(b"another secret key, rotated").await;
        assert_eq!(other.open("reset_instructions", &sealed), None);
        assert_eq!(other.open("reset_instructions", "short"), None);
    }

    #[tokio::test]
    async fn a_decoy_is_written_and_taken_out_but_never_sent() {
        let db = sea_orm::Database::connect("sqlite::memory:").await.unwrap();
        crate::store::schema::create_tables(&db).await.unwrap();
        let sent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = Arc::clone(&sent);
        let mailer: Arc<dyn MailTransport> = Arc::new(crate::mail::task(move |_| {
            count.fetch_add(1, Ordering::SeqCst);
            async { Ok(()) }
        }));
        let outbox = Outbox::new(
            db.clone(),
            b"a secret key, long enough",
            Some(mailer),
            Arc::new(crate::tokens::serializer::SystemClock),
            30,
            3,
        );
        outbox.enqueue_decoy().await.unwrap();
        let rows = outbox::Entity::find().all(&db).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].kind, DECOY);
        outbox.flush().await.unwrap();
        assert!(outbox::Entity::find().all(&db).await.unwrap().is_empty());
        assert_eq!(sent.load(Ordering::SeqCst), 0);
    }
}
