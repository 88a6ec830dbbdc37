//! Buildbot's `msgpack_experimental_v7` worker protocol, shared by the oebb master and worker.
//!
//! The pure part ([`Frame`], [`Request`], [`Command`], [`Update`], [`SequenceCounter`],
//! [`PendingRequests`], [`parse_basic_authorization`]) does no I/O. [`Connection`] multiplexes
//! requests and responses over one WebSocket; [`accept_worker`] and [`connect_to_master`] open one
//! from either side. The wire format follows `worker-protocol.md` (buildbot-worker 4.3.0).

mod accept;
mod auth;
mod command;
mod connection;
mod fields;
mod frame;
mod message;
mod quick_ack;
mod sequence;
mod untrusted;
mod update;
mod worker_info;

pub use accept::{
    accept_worker, accept_worker_within, connect_to_master, Accepted, HandshakeError,
    HANDSHAKE_TIMEOUT, MAX_WORKER_MESSAGE,
};
pub use auth::{parse_basic_authorization, AuthError, Credentials};
pub use command::{
    Arg, Command, CommandLine, Compression, CpdirArgs, DownloadFileArgs, EnvValue, LogFileSpec,
    RmdirArgs, ShellArgs, UploadDirectoryArgs, UploadFileArgs,
};
pub use connection::{CloseReason, Connection, IncomingRequest, RequestError, Responder, Side};
pub use frame::{Frame, FrameError};
pub use message::{CommandId, Direction, Request, Response, WorkerSettings};
pub use rmpv::Value;
pub use sequence::{PendingRequests, SeqNumber, SequenceCounter};
pub use untrusted::Untrusted;
pub use update::{FileStat, LogChunk, Update};
pub use worker_info::WorkerInfo;
