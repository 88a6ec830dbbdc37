//! One binary WebSocket message = one msgpack map: a request or a response.

use rmpv::Value;

use crate::fields::{self, Fields};
use crate::message::{Request, Response};
use crate::sequence::SeqNumber;

/// What was wrong with a frame received from the other side.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FrameError {
    /// The bytes are not one msgpack value.
    #[error("not valid msgpack: {0}")]
    Msgpack(String),
    /// More bytes follow the msgpack value.
    #[error("{0} bytes after the end of the msgpack value")]
    TrailingBytes(usize),
    /// A WebSocket text message; the protocol uses binary messages only.
    #[error("text WebSocket message; msgpack_experimental_v7 sends binary messages only")]
    TextMessage,
    /// A field has the wrong msgpack type.
    #[error("{field}: expected {expected}, found {found}")]
    WrongType {
        /// Dotted name of the field.
        field: String,
        /// The type the protocol requires.
        expected: &'static str,
        /// The type that came.
        found: &'static str,
    },
    /// A required field is absent.
    #[error("{field}: missing")]
    Missing {
        /// Dotted name of the field.
        field: String,
    },
    /// A field has the right type but a value the protocol does not allow.
    #[error("{field}: {reason}")]
    Invalid {
        /// Dotted name of the field.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An `op` this protocol does not have.
    #[error("unknown op {0:?}")]
    UnknownOp(String),
    /// A `start_command` for a command this protocol does not have.
    #[error("unrecognized WorkerCommand '{0}'")]
    UnknownCommand(String),
    /// A well-framed `start_command` whose command cannot be set up (unknown name, bad args);
    /// the worker answers it with an exception, as the stock worker does, and stays connected.
    #[error("(command {command}): {reason}")]
    BadCommand {
        /// The request's sequence number, to answer it.
        seq_number: u64,
        /// The `command_name` sent.
        command: String,
        /// What is wrong.
        reason: Box<FrameError>,
    },
    /// A response to a request this side never sent, or answered twice.
    #[error("response to unknown seq_number {0}")]
    UnknownSeqNumber(u64),
    /// A request that only the other side may send (e.g. a worker sending `start_command`).
    #[error("op {op:?} is not sent to the {receiver}")]
    WrongDirection {
        /// The op received.
        op: &'static str,
        /// `"master"` or `"worker"`.
        receiver: &'static str,
    },
}

/// A decoded frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// A request, numbered by the side that sends it.
    Request {
        /// The sender's number for this request.
        seq_number: SeqNumber,
        /// What is asked.
        request: Request,
    },
    /// The answer to a request of the other side.
    Response {
        /// The number of the request it answers.
        seq_number: SeqNumber,
        /// The result, or the exception message.
        response: Response,
    },
}

/// Nesting deeper than this is no message of this protocol; it bounds the decoder's recursion.
const MAX_DEPTH: usize = 32;

impl Frame {
    /// Encodes the frame as the payload of one binary WebSocket message.
    pub fn encode(&self) -> Vec<u8> {
        let value = self.to_value();
        let mut out = Vec::new();
        rmpv::encode::write_value(&mut out, &value).expect("writing msgpack to a Vec cannot fail");
        out
    }

    /// Decodes the payload of one binary WebSocket message, validating every field.
    pub fn decode(mut bytes: &[u8]) -> Result<Frame, FrameError> {
        let value = rmpv::decode::read_value_with_max_depth(&mut bytes, MAX_DEPTH)
            .map_err(|e| FrameError::Msgpack(e.to_string()))?;
        if !bytes.is_empty() {
            return Err(FrameError::TrailingBytes(bytes.len()));
        }
        Frame::from_value(&value)
    }

    /// The msgpack map of this frame.
    pub fn to_value(&self) -> Value {
        match self {
            Frame::Request {
                seq_number,
                request,
            } => {
                let mut entries = vec![
                    (Value::from("op"), Value::from(request.op())),
                    (Value::from("seq_number"), Value::from(seq_number.0)),
                ];
                entries.extend(
                    request
                        .fields()
                        .into_iter()
                        .map(|(k, v)| (Value::from(k), v)),
                );
                Value::Map(entries)
            }
            Frame::Response {
                seq_number,
                response,
            } => {
                let mut entries = vec![
                    (Value::from("op"), Value::from("response")),
                    (Value::from("seq_number"), Value::from(seq_number.0)),
                ];
                match response {
                    Response::Result(result) => {
                        entries.push((Value::from("result"), result.clone()));
                    }
                    Response::Exception(message) => {
                        entries.push((Value::from("result"), Value::from(message.as_str())));
                        entries.push((Value::from("is_exception"), Value::Boolean(true)));
                    }
                }
                Value::Map(entries)
            }
        }
    }

    /// Reads a frame from an already decoded msgpack value.
    pub fn from_value(value: &Value) -> Result<Frame, FrameError> {
        let frame = Fields::new(value, "")?;
        let op = frame.text("op")?;
        let seq_number = SeqNumber(frame.uint("seq_number")?);
        if op == "response" {
            let result = frame.required("result")?.clone();
            let response = if frame.bool_or("is_exception", false)? {
                Response::Exception(fields::text(&result, "result")?)
            } else {
                Response::Result(result)
            };
            return Ok(Frame::Response {
                seq_number,
                response,
            });
        }
        let request = Request::from_fields(&op, &frame).map_err(|reason| {
            match (op.as_str(), frame.text("command_name")) {
                ("start_command", Ok(command)) => FrameError::BadCommand {
                    seq_number: seq_number.0,
                    command,
                    reason: Box::new(reason),
                },
                _ => reason,
            }
        })?;
        Ok(Frame::Request {
            seq_number,
            request,
        })
    }
}

#[cfg(test)]
mod tests;
