//! Round trips of every record, version checks, and what a reader of an older
//! minor version does with a newer stream.

use super::framing::{decode, encode};
use super::*;

fn request(command: RunCommand) -> Request {
    Request::new(ClientId::Local { pid: 4242, tty: Some("/dev/pts/3".into()) }, command)
}

fn every_command() -> Vec<RunCommand> {
    vec![
        RunCommand::Pause,
        RunCommand::Resume,
        RunCommand::StepOnce,
        RunCommand::Stop,
        RunCommand::Checkpoint,
        RunCommand::SetLearningRate { lr: 0.0125 },
        RunCommand::Toggle { technique: "dropout".into(), enabled: true },
        RunCommand::SetParam { technique: "dropout".into(), param: "rate".into(), value: "0.2".into() },
        RunCommand::Fork { technique: "batch_norm".into(), enabled: true },
        RunCommand::Keep { branch: ForkBranch::A },
        RunCommand::Keep { branch: ForkBranch::B },
        RunCommand::Unknown,
    ]
}

fn sample_technique() -> TechniqueView {
    TechniqueView {
        name: "dropout".into(),
        enabled: true,
        class: ToggleClass::Structural,
        params: vec![ParamView {
            name: "rate".into(),
            value: "0.5".into(),
            range: "0 ..= 0.95".into(),
            help: "h".into(),
        }],
        status: "rate 0.5".into(),
    }
}

fn sample_step() -> StepRecord {
    StepRecord {
        step: 7,
        epoch: 1,
        loss: 0.75,
        objective: Some(0.8),
        acc: Some(0.5),
        lr: 0.01,
        samples_per_sec: 1234.5,
        wall_time: 1.25,
        grad_norms: vec![("layer0.weight".into(), 0.125)],
        saturation: vec![(0, 0.25)],
        metrics: vec![("grad_clip.clipped".into(), 1.0)],
    }
}

fn sample_epoch() -> EpochRecord {
    EpochRecord {
        step: 10,
        epoch: 1,
        loss: 0.5,
        val_loss: 0.625,
        val_acc: Some(0.75),
        lr: 0.01,
        samples_per_sec: 1000.0,
        wall_time: 2.0,
        eta_secs: 18.0,
    }
}

fn sample_started() -> Started {
    Started {
        run_dir: "runs/x".into(),
        device: "cpu".into(),
        epochs: 3,
        steps_per_epoch: 10,
        parameters: 99,
        epoch: 1,
        step: 10,
        resumed: true,
        train_rows: 600,
        validation_rows: 150,
        hint: "press space".into(),
    }
}

fn sample_status() -> RunStatus {
    RunStatus {
        name: "digits".into(),
        run_dir: "runs/digits-1".into(),
        pid: 4242,
        host: "gpu1".into(),
        state: Some(RunState::Paused),
        finished: None,
        epoch: 2,
        epochs: 10,
        step: 90,
        steps_per_epoch: 45,
        loss: Some(0.25),
        val_loss: Some(0.5),
        val_acc: Some(0.875),
        samples_per_sec: 1234.5,
        eta_secs: Some(60.0),
        clients: 2,
        recent_loss: vec![1.0, 0.5, 0.25],
        stalled: Some("dropout.batch_end".into()),
    }
}

/// One of each event, with every optional field set somewhere.
fn each_kind_once() -> Vec<RunEvent> {
    vec![
        RunEvent::Started(sample_started()),
        RunEvent::Techniques { techniques: vec![sample_technique()] },
        RunEvent::Step(sample_step()),
        RunEvent::Epoch(sample_epoch()),
        RunEvent::Confusion(ConfusionRecord {
            step: 10,
            epoch: 1,
            classes: vec!["cat".into(), "dog".into()],
            counts: vec![vec![3, 1], vec![0, 4]],
        }),
        RunEvent::Marker { step: 20, label: "dropout on".into() },
        RunEvent::State { step: 21, state: RunState::Paused },
        RunEvent::Log { level: LogLevel::Warn, message: "warning: w".into() },
        RunEvent::Rebuild { step: 20, reason: "dropout on".into(), rebuild_ms: 12.5 },
        RunEvent::Override { step: 10, key: "optimizer.lr".into(), set: "optimizer.lr=0.5".into() },
        RunEvent::StopRequested { step: 30, epoch: 3, by: "early_stopping".into(), restore_best: true },
        RunEvent::Diverged { step: 31, loss: 1e30, cause: "loss 1e30 is over 10x its best".into() },
        RunEvent::RolledBack { step: 31, to_step: 20, cause: "loss is NaN".into(), lr: 0.5, attempt: 1, paused: true },
        RunEvent::ForkStarted { step: 40, change: "batch_norm on".into(), branch_dir: "runs/x-fork-1".into() },
        RunEvent::Branch { record: Box::new(RunEvent::Marker { step: 41, label: "b".into() }) },
        RunEvent::ForkEnded { step: 50, kept: ForkBranch::A, other_dir: "runs/x-fork-1".into() },
        RunEvent::Finished {
            step: 31,
            epoch: 3,
            reason: StopReason::Error,
            run_dir: "runs/x".into(),
            error: Some("boom".into()),
        },
        RunEvent::Attached { client: ClientId::Ssh { host: "10.0.0.7".into() }, read_only: true, says: None },
        RunEvent::Attached {
            client: ClientId::Local { pid: 9, tty: None },
            read_only: false,
            says: Some("ssh from 10.0.0.7".into()),
        },
        RunEvent::Detached { client: Some(ClientId::Local { pid: 7, tty: None }), reason: "left".into() },
        RunEvent::Detached { client: None, reason: "the terminal hung up".into() },
        RunEvent::Refused { peer: "pid 9, uid 65534".into(), reason: "not the owner".into() },
        RunEvent::Unknown,
    ]
}

/// Every event: each kind once, then the variations of requests, clients,
/// states and stop reasons.
fn every_event() -> Vec<RunEvent> {
    let mut events = each_kind_once();
    for command in every_command() {
        events.push(RunEvent::Accepted { step: 3, request: request(command.clone()) });
        events.push(RunEvent::Rejected { step: 3, request: request(command), reason: "no such technique".into() });
    }
    for from in [
        ClientId::Dashboard,
        ClientId::Local { pid: 1, tty: None },
        ClientId::Ssh { host: "gpu1".into() },
        ClientId::Script { name: "test".into() },
        ClientId::Unknown,
    ] {
        events.push(RunEvent::Accepted { step: 4, request: Request::new(from, RunCommand::Pause) });
    }
    for state in [RunState::Running, RunState::Paused, RunState::Stopping, RunState::Finished] {
        events.push(RunEvent::State { step: 1, state });
    }
    for reason in [StopReason::Completed, StopReason::EarlyStopping, StopReason::User, StopReason::Diverged] {
        events.push(RunEvent::Finished { step: 1, epoch: 1, reason, run_dir: "d".into(), error: None });
    }
    events
}

#[test]
fn every_event_round_trips_as_one_line() {
    for event in every_event() {
        let record = Record { time: 1_700_000_000.125, event };
        let line = encode(&record);
        assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1, "one line: {}", String::from_utf8_lossy(&line));
        let back: Record = decode(std::str::from_utf8(&line).unwrap()).unwrap();
        assert_eq!(back, record, "{}", String::from_utf8_lossy(&line));
    }
}

#[test]
fn every_request_round_trips() {
    for command in every_command() {
        let r = request(command);
        let back: Request = decode(std::str::from_utf8(&encode(&r)).unwrap()).unwrap();
        assert_eq!(back, r);
    }
}

#[test]
fn the_wire_format_is_flat_and_readable() {
    let line = String::from_utf8(encode(&RunEvent::Accepted {
        step: 20,
        request: Request::dashboard(RunCommand::Toggle { technique: "dropout".into(), enabled: true }),
    }))
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["event"], "accepted");
    assert_eq!(v["command"], "toggle");
    assert_eq!(v["technique"], "dropout");
    assert_eq!(v["from"]["kind"], "dashboard");
    let hello: serde_json::Value = serde_json::from_slice(&encode(&ConnectionMessage::Hello(Hello::ours()))).unwrap();
    assert_eq!(hello["protocol"]["major"], PROTOCOL.major);
}

#[test]
fn non_finite_figures_come_back_as_nan() {
    let mut epoch = EpochRecord {
        step: 1,
        epoch: 1,
        loss: f32::NAN,
        val_loss: f32::NAN,
        val_acc: None,
        lr: 0.1,
        samples_per_sec: 1.0,
        wall_time: 1.0,
        eta_secs: 0.0,
    };
    let line = String::from_utf8(encode(&RunEvent::Epoch(epoch.clone()))).unwrap();
    assert!(line.contains("\"val_loss\":null"), "{line}");
    let RunEvent::Epoch(back) = decode::<RunEvent>(&line).unwrap() else { panic!("{line}") };
    assert!(back.loss.is_nan() && back.val_loss.is_nan());
    epoch.loss = back.loss;
    epoch.val_loss = back.val_loss;
    assert_eq!(format!("{back:?}"), format!("{epoch:?}"));
    let step = r#"{"event":"step","step":1,"epoch":1,"loss":1.0,"lr":0.1,"samples_per_sec":1.0,"wall_time":1.0,"grad_norms":[["layer0.weight",null]],"saturation":[]}"#;
    let RunEvent::Step(s) = decode::<RunEvent>(step).unwrap() else { panic!() };
    assert!(s.grad_norms[0].1.is_nan());
}

#[test]
fn a_newer_minor_version_is_read_skipping_what_is_unknown() {
    let stream = [
        r#"{"time":1.0,"event":"hello","protocol":{"major":1,"minor":7},"program":"traintop 9.0","features":["x"]}"#,
        r#"{"time":2.0,"event":"marker","step":3,"label":"dropout on","colour":"red"}"#,
        r#"{"time":3.0,"event":"hologram","step":4}"#,
        r#"{"time":4.0,"event":"accepted","step":5,"from":{"kind":"carrier_pigeon","loft":2},"command":"teleport"}"#,
        r#"{"time":5.0,"event":"state","step":6,"state":"paused"}"#,
    ]
    .join("\n");
    let mut reader = EventReader::new(stream.as_bytes());
    let items: Vec<StreamItem> = std::iter::from_fn(|| reader.next_item()).map(Result::unwrap).collect();
    assert!(matches!(&items[0], StreamItem::Connection(ConnectionMessage::Hello(h)) if h.protocol.minor == 7));
    let records: Vec<Record> = EventReader::new(stream.as_bytes()).map(Result::unwrap).collect();
    let events: Vec<RunEvent> = records.into_iter().map(|r| r.event).collect();
    assert_eq!(items[1..], events.iter().cloned().map(StreamItem::Run).collect::<Vec<_>>()[..]);
    assert_eq!(events[0], RunEvent::Marker { step: 3, label: "dropout on".into() });
    assert_eq!(
        events[1],
        RunEvent::Accepted { step: 5, request: Request::new(ClientId::Unknown, RunCommand::Unknown) },
        "an unknown command and sender still read as a request"
    );
    assert_eq!(events[2], RunEvent::State { step: 6, state: RunState::Paused });
    assert_eq!(events.len(), 3, "the hello is a connection message, the unknown event is skipped");
}

#[test]
fn another_major_version_is_refused_naming_both_versions() {
    let stream =
        "{\"time\":1.0,\"event\":\"hello\",\"protocol\":{\"major\":2,\"minor\":1},\"program\":\"traintop 3.0.0\"}\n";
    let mut reader = EventReader::new(stream.as_bytes());
    let err = reader.next().unwrap().unwrap_err();
    assert!(!err.is_recoverable());
    let text = err.to_string();
    for needle in
        ["line 1", "protocol 2.1", "traintop 3.0.0", &format!("protocol {}.x", PROTOCOL.major), &PROTOCOL.to_string()]
    {
        assert!(text.contains(needle), "no `{needle}` in: {text}");
    }
    let hello = Hello { protocol: Version { major: PROTOCOL.major, minor: PROTOCOL.minor + 3 }, program: "p".into() };
    assert!(hello.check().is_ok());
}

#[test]
fn bad_lines_are_reported_by_number_and_skipped() {
    let long = "x".repeat(framing::MAX_LINE + 10);
    let stream = format!("{{\"time\":1.0,\"event\":\"log\",\"level\":\"info\",\"message\":\"a\"}}\n\nnot json\n{long}\n{{\"time\":2.0,\"event\":\"log\",\"level\":\"info\",\"message\":\"b\"}}\n{{\"time\":3.0,\"ev");
    let results: Vec<_> = EventReader::new(stream.as_bytes()).collect();
    assert_eq!(results.len(), 5);
    assert!(results[0].is_ok() && results[3].is_ok());
    let errors: Vec<String> = results.iter().filter_map(|r| r.as_ref().err()).map(|e| e.to_string()).collect();
    assert!(errors[0].starts_with("line 3:"), "{errors:?}");
    assert!(errors[1].starts_with("line 4:") && errors[1].contains("longer"), "{errors:?}");
    assert!(errors[2].starts_with("line 6:"), "{errors:?}");
}

#[test]
fn writer_and_reader_work_over_any_io() {
    let mut w = LineWriter::new(Vec::new());
    for command in every_command() {
        w.send(&request(command)).unwrap();
    }
    let bytes = w.into_inner();
    let mut r = LineReader::new(std::io::Cursor::new(bytes));
    let mut back = vec![];
    while let Some(x) = r.read::<Request>() {
        back.push(x.unwrap().command);
    }
    assert_eq!(back, every_command());
}

#[test]
fn a_client_hello_round_trips_and_defaults_to_watching() {
    let hello = ClientHello {
        hello: Hello::ours(),
        client: ClientId::Local { pid: 3, tty: Some("/dev/pts/1".into()) },
        read_only: true,
        want: Want::Status,
    };
    let line = encode(&hello);
    assert_eq!(decode::<ClientHello>(std::str::from_utf8(&line).unwrap()).unwrap(), hello);
    let minimal: ClientHello =
        decode(r#"{"protocol": {"major": 1, "minor": 0}, "program": "x", "client": {"kind": "dashboard"}}"#).unwrap();
    assert_eq!((minimal.read_only, minimal.want), (false, Want::Watch));
}

fn every_connection_message() -> Vec<ConnectionMessage> {
    vec![
        ConnectionMessage::Hello(Hello::ours()),
        ConnectionMessage::Status(sample_status()),
        ConnectionMessage::Status(RunStatus::default()),
        ConnectionMessage::Error { message: "expected a client hello".into() },
    ]
}

#[test]
fn connection_messages_round_trip_through_the_reader_beside_run_events() {
    let mut bytes = Vec::new();
    let mut sent = Vec::new();
    for (message, event) in every_connection_message().into_iter().zip(every_event()) {
        bytes.extend(encode(&RecordRef { time: 1.5, event: &message }));
        bytes.extend(encode(&RecordRef { time: 2.5, event: &event }));
        sent.push(StreamItem::Connection(message));
        if event != RunEvent::Unknown {
            sent.push(StreamItem::Run(event));
        }
    }
    let mut reader = EventReader::new(bytes.as_slice());
    let back: Vec<StreamItem> = std::iter::from_fn(|| reader.next_item()).map(Result::unwrap).collect();
    assert_eq!(back, sent);
    let runs_only: Vec<RunEvent> = EventReader::new(bytes.as_slice()).map(|r| r.unwrap().event).collect();
    let expected: Vec<RunEvent> =
        sent.into_iter().filter_map(|i| if let StreamItem::Run(e) = i { Some(e) } else { None }).collect();
    assert_eq!(runs_only, expected, "the iterator gives the run's records alone");
}

/// The lines a connection message makes are byte for byte those of the
/// protocol before hello, status and error left `RunEvent` (written out by
/// hand from that version's output): old files and old peers read them.
#[test]
fn connection_messages_keep_their_wire_bytes() {
    let at = |message: &ConnectionMessage| String::from_utf8(encode(&RecordRef { time: 1.5, event: message })).unwrap();
    let program = Hello::ours().program;
    let (major, minor) = (PROTOCOL.major, PROTOCOL.minor);
    assert_eq!(
        at(&ConnectionMessage::Hello(Hello::ours())),
        format!(
            "{{\"time\":1.5,\"event\":\"hello\",\"protocol\":{{\"major\":{major},\"minor\":{minor}}},\"program\":\"{program}\"}}\n"
        )
    );
    assert_eq!(
        at(&ConnectionMessage::Error { message: "refused: \"x\"".into() }),
        "{\"time\":1.5,\"event\":\"error\",\"message\":\"refused: \\\"x\\\"\"}\n"
    );
    let status =
        RunStatus { name: "digits".into(), pid: 7, clients: 2, recent_loss: vec![0.5], ..RunStatus::default() };
    assert_eq!(
        at(&ConnectionMessage::Status(status)),
        "{\"time\":1.5,\"event\":\"status\",\"name\":\"digits\",\"run_dir\":\"\",\"pid\":7,\"host\":\"\",\"state\":null,\
         \"finished\":null,\"epoch\":0,\"epochs\":0,\"step\":0,\"steps_per_epoch\":0,\"loss\":null,\"val_loss\":null,\
         \"val_acc\":null,\"samples_per_sec\":0.0,\"eta_secs\":null,\"clients\":2,\"recent_loss\":[0.5]}\n"
    );
}

#[test]
fn connection_tags_are_the_messages_tags() {
    for message in every_connection_message() {
        let v: serde_json::Value = serde_json::from_slice(&encode(&message)).unwrap();
        let tag = v["event"].as_str().unwrap();
        assert!(ConnectionMessage::TAGS.contains(&tag), "{tag}");
        let as_run: RunEvent = decode(&v.to_string()).unwrap();
        assert_eq!(as_run, RunEvent::Unknown, "no run event shares the tag {tag}");
    }
}

#[test]
fn a_malformed_connection_message_is_reported_not_skipped() {
    let stream = "{\"time\":1.0,\"event\":\"error\"}\n{\"time\":2.0,\"event\":\"hello\",\"program\":\"p\"}\n";
    let results: Vec<_> = EventReader::new(stream.as_bytes()).collect();
    assert_eq!(results.len(), 2);
    assert!(results.iter().all(|r| matches!(r, Err(FrameError::Invalid { .. }))), "{results:?}");
}
