//! One binary WebSocket message from a hostile peer, decoded as the connection's read loop does
//! (`Frame::decode`), then what the master reads from a response (`WorkerInfo::from_value`, the
//! answer to `get_worker_info`). Oracle: no panic, and whatever decodes re-encodes to bytes that
//! decode to the same frame (compared as encoded bytes, so NaN results compare equal).

#![no_main]

use libfuzzer_sys::fuzz_target;
use oebb_protocol::{Frame, Request, Response, Value, WorkerInfo};

fn encoded(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, value).expect("writing to a Vec");
    out
}

fuzz_target!(|data: &[u8]| {
    let frame = match Frame::decode(data) {
        Ok(frame) => frame,
        Err(error) => {
            // Refusals are logged and sent in the close frame: their text must be producible.
            let _ = error.to_string();
            return;
        }
    };
    let bytes = frame.encode();
    let again = Frame::decode(&bytes).expect("a frame this side encoded decodes");
    assert_eq!(
        again.encode(),
        bytes,
        "encode/decode round trip of {frame:?}"
    );

    match &frame {
        Frame::Response {
            response: Response::Result(value),
            ..
        } => {
            if let Ok(info) = WorkerInfo::from_value(value) {
                let back = WorkerInfo::from_value(&info.to_value()).expect("own worker info");
                assert_eq!(encoded(&back.to_value()), encoded(&info.to_value()));
            }
        }
        Frame::Request { request, .. } => {
            // What the master's router looks at for every request.
            let _ = (request.op(), request.direction(), request.command_id());
            if let Request::StartCommand { command, .. } = request {
                let _ = command.name();
            }
        }
        Frame::Response { .. } => {}
    }
});
