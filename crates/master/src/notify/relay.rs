//! The SMTP relay through lettre: the transport of `[mail]` (STARTTLS or TLS through rustls),
//! and a stored mail made into a message. The password file and the CA file are read at each
//! attempt, so fixing them needs no restart.

use std::path::Path;
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use oebb_config::master_settings::{MailSecurity, MailSettings};

use crate::store::mail::MailRecord;

/// How long one SMTP exchange may take.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a mail was not sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The mail cannot become a message (an address no relay would take): trying again would
    /// not help.
    #[error("{0}")]
    Message(String),
    /// The relay could not be reached or refused: the mail is tried again later.
    #[error("{0}")]
    Relay(String),
}

/// Reads a small file of the master directory (password, certificates).
fn read(master_dir: &Path, file: &Path, what: &str) -> Result<Vec<u8>, SendError> {
    let path = master_dir.join(file);
    oebb_config::load::read_file(&path)
        .map_err(|e| SendError::Relay(format!("cannot read the {what} {}: {e}", path.display())))
}

/// The transport of `[mail]`.
pub fn transport(
    settings: &MailSettings,
    master_dir: &Path,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, SendError> {
    let host = settings.relay_host.as_str();
    let mut builder =
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host).port(settings.relay_port);
    if settings.security != MailSecurity::None {
        let mut tls = TlsParameters::builder(host.to_string());
        if let Some(file) = &settings.ca_file {
            let pem = read(master_dir, file, "ca-file")?;
            let cert = Certificate::from_pem(&pem)
                .map_err(|e| SendError::Relay(format!("ca-file {}: {e}", file.display())))?;
            tls = tls.add_root_certificate(cert);
        }
        let tls = tls
            .build()
            .map_err(|e| SendError::Relay(format!("TLS settings: {e}")))?;
        builder = builder.tls(match settings.security {
            MailSecurity::Tls => Tls::Wrapper(tls),
            _ => Tls::Required(tls),
        });
    }
    if let Some(user) = &settings.username {
        let password = match &settings.password_file {
            Some(file) => {
                let bytes = read(master_dir, file, "password-file")?;
                let text = String::from_utf8_lossy(&bytes);
                text.lines().next().unwrap_or("").to_string()
            }
            None => String::new(),
        };
        // PLAIN (one exchange), LOGIN for relays that only offer it.
        builder = builder
            .credentials(Credentials::new(user.clone(), password))
            .authentication(vec![Mechanism::Plain, Mechanism::Login]);
    }
    Ok(builder.timeout(Some(SMTP_TIMEOUT)).build())
}

/// A stored mail as a message: plain text and HTML alternatives, its own Message-ID.
pub fn message(settings: &MailSettings, mail: &MailRecord) -> Result<Message, SendError> {
    let bad = |e: &dyn std::fmt::Display| SendError::Message(e.to_string());
    let from: Mailbox = settings
        .from
        .parse()
        .map_err(|e| bad(&format!("`from` = {}: {e}", settings.from)))?;
    let mut builder = Message::builder()
        .from(from)
        .subject(mail.subject.clone())
        .message_id(Some(mail.message_id.clone()));
    let mut any = false;
    for r in &mail.recipients {
        match r.parse::<Mailbox>() {
            Ok(m) => {
                builder = builder.to(m);
                any = true;
            }
            Err(e) => tracing::warn!(mail = %mail.id, "recipient {r:?} left out: {e}"),
        }
    }
    if !any {
        return Err(SendError::Message(
            "no recipient is a valid mail address".into(),
        ));
    }
    builder
        .multipart(MultiPart::alternative_plain_html(
            mail.text.clone(),
            mail.html.clone(),
        ))
        .map_err(|e| bad(&e))
}

/// Sends a stored mail through the relay of `[mail]`.
pub async fn send(
    settings: &MailSettings,
    master_dir: &Path,
    mail: &MailRecord,
) -> Result<(), SendError> {
    let message = message(settings, mail)?;
    let transport = transport(settings, master_dir)?;
    let relay = format!("relay {}:{}", settings.relay_host, settings.relay_port);
    // lettre's timeout covers each command; this one the whole exchange, so a relay that
    // stalls cannot hold the queue.
    match tokio::time::timeout(SMTP_TIMEOUT * 2, transport.send(message)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(SendError::Relay(format!("{relay}: {e}"))),
        Err(_) => Err(SendError::Relay(format!(
            "{relay}: no answer within {} s",
            (SMTP_TIMEOUT * 2).as_secs()
        ))),
    }
}

/// Sends one test mail to `address` at once, outside the queue (`oebb mail-test`).
pub async fn send_test(
    settings: &MailSettings,
    master_dir: &Path,
    title: &str,
    address: &str,
) -> Result<(), SendError> {
    let now = crate::store::now_millis();
    let host = settings.from.rsplit_once('@').map_or("oebb", |(_, d)| d);
    let text = format!(
        "This is a test mail of the oebb master \"{title}\" ({}), sent by `oebb mail-test` \
         through {}:{} ({}).\n",
        master_dir.display(),
        settings.relay_host,
        settings.relay_port,
        settings.security.name()
    );
    let mail = MailRecord {
        id: crate::ids::MailId(0),
        created_at: now,
        kind: "test".into(),
        build: None,
        worker: None,
        recipients: vec![address.to_string()],
        subject: format!("[{title}] test mail"),
        html: format!(
            "<p>{}</p>",
            text.trim_end()
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
        ),
        text,
        message_id: format!("<oebb.test.{now}@{host}>"),
        status: "queued".into(),
        attempts: 0,
        next_attempt_at: now,
        last_error: None,
        sent_at: None,
    };
    send(settings, master_dir, &mail).await
}
