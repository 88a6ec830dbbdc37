//! Both ends of a connection made from this crate, over loopback: multiplexing, timeouts,
//! exactly-once answers, authentication refusals and garbage frames.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use oebb_protocol::{
    accept_worker, connect_to_master, Accepted, CloseReason, CommandId, Connection, Credentials,
    Frame, FrameError, HandshakeError, IncomingRequest, LogChunk, Request, RequestError, Response,
    Update, Value, MAX_WORKER_MESSAGE,
};
use tokio::net::TcpListener;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

const WAIT: Duration = Duration::from_secs(5);

fn credentials() -> Credentials {
    Credentials {
        name: "w1".into(),
        password: "pw".into(),
    }
}

fn check(c: &Credentials) -> bool {
    *c == credentials()
}

async fn listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    (listener, address)
}

async fn accept(listener: &TcpListener) -> Result<Accepted, HandshakeError> {
    let (stream, _) = listener.accept().await.unwrap();
    accept_worker(stream, check).await
}

/// A master and a worker connected to each other.
async fn pair() -> (
    Accepted,
    (Connection, UnboundedReceiver<IncomingRequest>),
    TcpListener,
) {
    let (listener, address) = listener().await;
    let (master, worker) = tokio::join!(accept(&listener), async {
        connect_to_master(address.as_str(), &credentials()).await
    });
    (master.unwrap(), worker.unwrap(), listener)
}

async fn next(incoming: &mut UnboundedReceiver<IncomingRequest>) -> IncomingRequest {
    tokio::time::timeout(WAIT, incoming.recv())
        .await
        .expect("no request in time")
        .expect("connection closed")
}

fn update(rc: i64) -> Request {
    Request::Update {
        command_id: CommandId::from("1"),
        updates: vec![Update::Rc(rc)],
    }
}

#[tokio::test]
async fn requests_and_responses_cross_in_both_directions() {
    let (mut master, (worker, mut worker_incoming), _l) = pair().await;
    assert_eq!(master.name, "w1");

    let asked = master.connection.request(Request::GetWorkerInfo, WAIT);
    let answered = async {
        let request = next(&mut worker_incoming).await;
        assert_eq!(request.request, Request::GetWorkerInfo);
        assert_eq!(request.seq_number.0, 0, "each side counts from 0");
        request.respond(Response::Result(Value::from("info")));
    };
    let (result, ()) = tokio::join!(asked, answered);
    assert_eq!(result, Ok(Value::from("info")));

    // Several requests in flight at once, answered out of order.
    let sent = async {
        tokio::join!(
            worker.request(update(1), WAIT),
            worker.request(update(2), WAIT)
        )
    };
    let answered = async {
        let first = next(&mut master.incoming).await;
        let second = next(&mut master.incoming).await;
        assert_eq!((first.seq_number.0, second.seq_number.0), (0, 1));
        second.respond(Response::Result(Value::from(2)));
        first.respond(Response::Exception("no such command".into()));
    };
    let ((one, two), ()) = tokio::join!(sent, answered);
    assert_eq!(two, Ok(Value::from(2)));
    assert_eq!(
        one,
        Err(RequestError::Exception {
            op: "update",
            message: "no such command".into()
        })
    );
}

#[tokio::test]
async fn a_side_cannot_send_the_other_sides_requests() {
    let (master, (worker, _), _l) = pair().await;
    assert!(matches!(
        master.connection.request(update(0), WAIT).await,
        Err(RequestError::WrongDirection { op: "update", .. })
    ));
    assert!(matches!(
        worker.request(Request::Keepalive, WAIT).await,
        Err(RequestError::WrongDirection {
            op: "keepalive",
            ..
        })
    ));
}

#[tokio::test]
async fn a_timed_out_request_fails_and_its_late_answer_is_dropped_quietly() {
    let (master, (_worker, mut worker_incoming), _l) = pair().await;
    let result = master
        .connection
        .request(Request::Keepalive, Duration::from_millis(50))
        .await;
    assert!(matches!(
        result,
        Err(RequestError::Timeout {
            op: "keepalive",
            ..
        })
    ));
    next(&mut worker_incoming).await.respond(Response::ok());
    // The connection is still usable.
    let again = master.connection.request(Request::Keepalive, WAIT);
    let answered = async { next(&mut worker_incoming).await.respond(Response::ok()) };
    let (again, ()) = tokio::join!(again, answered);
    assert_eq!(again, Ok(Value::Nil));
    assert_eq!(master.connection.close_reason(), None);
}

#[tokio::test]
async fn a_request_dropped_unanswered_gets_an_exception() {
    let (master, (_worker, mut worker_incoming), _l) = pair().await;
    let asked = master.connection.request(Request::Keepalive, WAIT);
    let dropped = async { drop(next(&mut worker_incoming).await) };
    let (result, ()) = tokio::join!(asked, dropped);
    assert!(
        matches!(&result, Err(RequestError::Exception { message, .. }) if message.contains("not handled")),
        "{result:?}"
    );
}

#[tokio::test]
async fn closing_fails_pending_requests_and_the_other_side_sees_it() {
    let (master, (worker, _worker_incoming), _l) = pair().await;
    let pending = master.connection.request(Request::Keepalive, WAIT);
    let close = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        master
            .connection
            .close("worker removed from the configuration");
    };
    let (result, ()) = tokio::join!(pending, close);
    assert!(
        matches!(result, Err(RequestError::Closed(CloseReason::Local(_)))),
        "{result:?}"
    );
    let seen = tokio::time::timeout(WAIT, worker.closed()).await.unwrap();
    assert_eq!(seen, CloseReason::PeerClosed);
    assert!(matches!(
        master.connection.request(Request::Keepalive, WAIT).await,
        Err(RequestError::Closed(_))
    ));
}

/// A raw WebSocket client that authenticates correctly and then misbehaves.
async fn raw_client(
    address: &str,
    authorization: Option<&str>,
) -> Result<
    tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
    tokio_tungstenite::tungstenite::Error,
> {
    let mut request = format!("ws://{address}/").into_client_request().unwrap();
    if let Some(value) = authorization {
        request
            .headers_mut()
            .insert("authorization", HeaderValue::from_str(value).unwrap());
    }
    let stream = tokio::net::TcpStream::connect(address).await.unwrap();
    tokio_tungstenite::client_async(request, stream)
        .await
        .map(|(ws, _)| ws)
}

async fn misbehave(message: Message) -> CloseReason {
    let (listener, address) = listener().await;
    let header = credentials().to_header_value();
    let (master, client) = tokio::join!(accept(&listener), raw_client(&address, Some(&header)));
    let master = master.unwrap();
    let mut client = client.unwrap();
    client.send(message).await.unwrap();
    tokio::time::timeout(WAIT, master.connection.closed())
        .await
        .expect("garbage did not close the connection")
}

fn encode(value: Value) -> Message {
    let mut bytes = Vec::new();
    rmpv::encode::write_value(&mut bytes, &value).unwrap();
    Message::Binary(bytes.into())
}

fn map(pairs: Vec<(&str, Value)>) -> Value {
    Value::Map(
        pairs
            .into_iter()
            .map(|(k, v)| (Value::from(k), v))
            .collect(),
    )
}

#[tokio::test]
async fn garbage_frames_close_that_connection_with_the_reason() {
    assert!(matches!(
        misbehave(Message::Binary(vec![0x92, 0x01].into())).await,
        CloseReason::Protocol(FrameError::Msgpack(_))
    ));
    assert_eq!(
        misbehave(Message::Text("hello".into())).await,
        CloseReason::Protocol(FrameError::TextMessage)
    );
    let stray_response = map(vec![
        ("op", Value::from("response")),
        ("seq_number", Value::from(99)),
        ("result", Value::Nil),
    ]);
    assert_eq!(
        misbehave(encode(stray_response)).await,
        CloseReason::Protocol(FrameError::UnknownSeqNumber(99))
    );
    let wrong_way = map(vec![
        ("op", Value::from("shutdown")),
        ("seq_number", Value::from(0)),
    ]);
    assert_eq!(
        misbehave(encode(wrong_way)).await,
        CloseReason::Protocol(FrameError::WrongDirection {
            op: "shutdown",
            receiver: "master"
        })
    );
}

/// One message of nils decodes to 40 bytes per byte; over the limit it is refused unread (it
/// was decoded, up to 64 MiB, into 2.5 GiB).
#[tokio::test]
async fn a_worker_message_over_the_limit_closes_its_connection_unread() {
    let (listener, address) = listener().await;
    let header = credentials().to_header_value();
    let (master, client) = tokio::join!(accept(&listener), raw_client(&address, Some(&header)));
    let (master, mut client) = (master.unwrap(), client.unwrap());
    let oversized = Message::Binary(vec![0xc0; MAX_WORKER_MESSAGE + 1].into());
    // The master may close before the whole message is written: the send may fail.
    let _ = client.send(oversized).await;
    let reason = tokio::time::timeout(WAIT, master.connection.closed())
        .await
        .expect("an oversized message did not close the connection");
    assert!(
        matches!(&reason, CloseReason::Transport(e) if e.contains("Message too long")),
        "{reason:?}"
    );
}

/// The largest update an honest worker sends (its 64 KiB buffer plus one read, all newlines:
/// the offsets and times are most of it) stays under the limit.
#[tokio::test]
async fn the_largest_honest_update_is_under_the_limit() {
    let (mut master, (worker, _), _listener) = pair().await;
    let chunk = LogChunk::from_lines(&"\n".repeat(128 << 10), 1_700_000_000.25);
    let request = Request::Update {
        command_id: CommandId::from("1"),
        updates: vec![Update::Stdout(chunk)],
    };
    let size = Frame::Request {
        seq_number: oebb_protocol::SeqNumber(1),
        request: request.clone(),
    }
    .encode()
    .len();
    assert!(size < MAX_WORKER_MESSAGE / 2, "{size} bytes");
    let sent = worker.request(request, WAIT);
    let answered = async {
        let incoming = next(&mut master.incoming).await;
        assert!(matches!(&incoming.request, Request::Update { updates, .. } if updates.len() == 1));
        incoming.respond(Response::ok());
    };
    let (result, ()) = tokio::join!(sent, answered);
    assert_eq!(result, Ok(Value::Nil));
}

#[tokio::test]
async fn garbage_on_one_connection_leaves_another_alone() {
    let (mut master, (worker, _), listener) = pair().await;
    let address = listener.local_addr().unwrap().to_string();
    let header = credentials().to_header_value();
    let (bad, client) = tokio::join!(accept(&listener), raw_client(&address, Some(&header)));
    let (bad, mut client) = (bad.unwrap(), client.unwrap());
    client
        .send(Message::Binary(vec![0xff, 0x00].into()))
        .await
        .unwrap();
    tokio::time::timeout(WAIT, bad.connection.closed())
        .await
        .unwrap();

    let sent = worker.request(update(0), WAIT);
    let answered = async { next(&mut master.incoming).await.respond(Response::ok()) };
    let (result, ()) = tokio::join!(sent, answered);
    assert_eq!(result, Ok(Value::Nil));
}

#[tokio::test]
async fn refused_workers_get_401_and_malformed_headers_400() {
    let (listener, address) = listener().await;
    let status = |e: WsError| match e {
        WsError::Http(response) => response.status().as_u16(),
        other => panic!("not an HTTP refusal: {other}"),
    };

    let (master, client) = tokio::join!(accept(&listener), raw_client(&address, None));
    assert!(matches!(
        master,
        Err(HandshakeError::Refused(oebb_protocol::AuthError::Missing))
    ));
    assert_eq!(status(client.unwrap_err()), 401);

    let (master, client) = tokio::join!(accept(&listener), raw_client(&address, Some("Basic %%%")));
    assert!(matches!(
        master,
        Err(HandshakeError::Refused(
            oebb_protocol::AuthError::Malformed(_)
        ))
    ));
    assert_eq!(status(client.unwrap_err()), 400);

    let wrong = Credentials {
        name: "w1".into(),
        password: "nope".into(),
    };
    let (master, worker) = tokio::join!(
        accept(&listener),
        connect_to_master(address.as_str(), &wrong)
    );
    assert!(matches!(
        master,
        Err(HandshakeError::Refused(
            oebb_protocol::AuthError::Refused { .. }
        ))
    ));
    assert!(matches!(
        worker,
        Err(HandshakeError::Rejected { status: 401 })
    ));
}

/// A start_command the worker cannot set up is answered with an exception, as the stock
/// worker does, and the connection stays up for the next command.
#[tokio::test]
async fn a_worker_answers_an_unknown_or_malformed_command_with_an_exception() {
    let (listener, address) = listener().await;
    let credentials = credentials();
    let (master, worker) = tokio::join!(
        async {
            let (stream, _) = listener.accept().await.unwrap();
            tokio_tungstenite::accept_async(stream).await.unwrap()
        },
        connect_to_master(address.as_str(), &credentials)
    );
    let mut master = master;
    let (worker, _incoming) = worker.unwrap();
    let start = |seq: u64, name: &str, args: Value| {
        encode(map(vec![
            ("op", Value::from("start_command")),
            ("seq_number", Value::from(seq)),
            ("command_id", Value::from(format!("c{seq}"))),
            ("command_name", Value::from(name)),
            ("args", args),
        ]))
    };
    let cases = [
        (
            1,
            start(1, "nosuch", map(vec![])),
            "(command nosuch): unrecognized WorkerCommand 'nosuch'",
        ),
        (2, start(2, "shell", map(vec![])), "(command shell): "),
    ];
    for (seq, frame, expected) in cases {
        master.send(frame).await.unwrap();
        let answer = tokio::time::timeout(WAIT, master.next())
            .await
            .expect("no answer to start_command")
            .expect("the worker closed the connection")
            .unwrap();
        let Message::Binary(bytes) = answer else {
            panic!("not a binary frame: {answer:?}")
        };
        match Frame::decode(&bytes).unwrap() {
            Frame::Response {
                seq_number,
                response: Response::Exception(message),
            } => {
                assert_eq!(seq_number.0, seq);
                assert!(message.starts_with(expected), "{message}");
            }
            other => panic!("not an exception: {other:?}"),
        }
    }
    assert!(
        worker.close_reason().is_none(),
        "{:?}",
        worker.close_reason()
    );
}
