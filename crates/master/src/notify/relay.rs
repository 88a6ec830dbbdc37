//! The SMTP relay through lettre: the transport of `[mail]` (STARTTLS or TLS through rustls),
//! and a stored mail made into a message. The password file and the CA file are read at each
//! attempt, so fixing them needs no restart.

use std::path::Path;
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
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
        builder = builder.credentials(Credentials::new(user.clone(), password));
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
    transport.send(message).await.map_err(|e| {
        let mut text = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            text.push_str(&format!(": {s}"));
            source = s.source();
        }
        SendError::Relay(format!(
            "relay {}:{}: {text}",
            settings.relay_host, settings.relay_port
        ))
    })?;
    Ok(())
}
