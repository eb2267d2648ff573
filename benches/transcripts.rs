//! Transcript tools side by side, on one generated Claude Code home: `aisys transcript stats`
//! against `ccusage` (and their per-session token totals must be identical), `aisys transcript
//! parse --format markdown` and `--format html` against `claude-code-log`, the throughput of
//! `aisys transcript parse --format jsonl`, and aisys's peak memory over the whole corpus.
//!
//! `cargo bench --bench transcripts` (or `scripts/bench-transcripts`, which also installs the
//! peers) writes a ~200 MB corpus; as a test (`cargo test --all-targets`) it runs once on ~1 MB.
//! The peers are found in `.test-deps/bench/` (see the script) or through
//! `AISYS_BENCH_CCUSAGE` / `AISYS_BENCH_CLAUDE_CODE_LOG`; a smoke run without them measures aisys
//! alone, a real run without them fails. `AISYS_BENCH_KEEP=DIR` writes the corpus to DIR and
//! keeps it.
//!
//! The corpus has the line shapes of Claude Code 2.1.x transcripts (see tests/fixtures):
//! queue operations, prompts, attachments, responses written one content block per line with the
//! usage repeated (thinking, text, tool_use), tool results with `toolUseResult`, system lines,
//! compaction, summaries, inline sidechains (2.0.x) and `subagents/agent-<id>.jsonl` files.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Corpus size of a real run: the size of a heavy user's `~/.claude/projects`.
const CORPUS_BYTES: u64 = 200 * 1000 * 1000;
/// Corpus size as a test: enough for every line shape, done in a second.
const SMOKE_CORPUS_BYTES: u64 = 2 * 1000 * 1000;
/// Runs of each command in a real run; the median is reported.
const ROUNDS: usize = 3;
/// Stats runs are short: this many times `ROUNDS` of them, alternating with ccusage.
const STATS_ROUNDS_FACTOR: usize = 3;
/// Projects the sessions are spread over.
const PROJECTS: usize = 24;
/// Projects as a test: few, so that its handful of sessions includes resumed ones.
const SMOKE_PROJECTS: usize = 2;

// ---------------------------------------------------------------------------------------------
// Corpus

/// xorshift64*: a fixed seed gives the same corpus on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn uuid(&mut self) -> String {
        let (a, b) = (self.next(), self.next());
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | (b >> 48) & 0x3fff,
            b & 0xffff_ffff_ffff
        )
    }
    fn base62(&mut self, n: usize) -> String {
        const A: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        (0..n).map(|_| A[self.below(62) as usize] as char).collect()
    }
}

const WORDS: &[&str] = &[
    "the",
    "function",
    "returns",
    "error",
    "when",
    "file",
    "is",
    "missing",
    "we",
    "should",
    "check",
    "config",
    "and",
    "then",
    "update",
    "tests",
    "for",
    "parser",
    "module",
    "because",
    "value",
    "can",
    "be",
    "null",
    "let's",
    "read",
    "line",
    "server",
    "client",
    "session",
    "token",
    "cache",
    "build",
    "fails",
    "on",
    "CI",
    "with",
    "message",
    "\"unexpected\"",
    "—",
    "naïve",
    "handler",
    "route",
    "schema",
    "migration",
    "index",
    "query",
    "type",
    "struct",
    "field",
];

const CODE: &[&str] = &[
    "fn parse_line(line: &str) -> Result<Event, Error> {",
    "    let value: Value = serde_json::from_str(line)?;",
    "    match value.get(\"type\").and_then(Value::as_str) {",
    "        Some(\"assistant\") => Ok(Event::Assistant(value)),",
    "\tif err != nil {\n\t\treturn fmt.Errorf(\"read %s: %w\", path, err)\n\t}",
    "export function handler(req: Request): Promise<Response> {",
    "  const { id } = req.params; // TODO: validate",
    "import { describe, it, expect } from \"vitest\";",
    "def load(path):\n    with open(path) as f:\n        return json.load(f)",
    "}",
    "",
    "SELECT id, name FROM users WHERE created_at > $1 ORDER BY id;",
];

fn words(rng: &mut Rng, n: u64) -> String {
    let mut s = String::new();
    for i in 0..n {
        if i > 0 {
            s.push(if rng.chance(6) { '\n' } else { ' ' });
        }
        s.push_str(WORDS[rng.below(WORDS.len() as u64) as usize]);
    }
    s
}

/// A file as the Read tool shows it: numbered lines with Claude Code's arrow.
fn file_dump(rng: &mut Rng, lines: u64) -> String {
    let mut s = String::new();
    for i in 1..=lines {
        let _ = writeln!(s, "{i:>6}→{}", CODE[rng.below(CODE.len() as u64) as usize]);
    }
    s
}

fn js(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

const MODELS: &[&str] = &[
    "claude-sonnet-4-5-20250929",
    "claude-opus-4-8",
    "claude-sonnet-4-5-20250929",
    "claude-opus-4-1-20250805",
];
const SUBAGENT_MODEL: &str = "claude-haiku-4-5-20251001";
const TOOLS: &[&str] = &["Read", "Bash", "Edit", "Grep", "Write", "Glob"];

/// Where lines of one file are written, and the state that links them.
struct Writer<'a> {
    out: std::io::BufWriter<std::fs::File>,
    rng: &'a mut Rng,
    session: String,
    cwd: String,
    sidechain: bool,
    agent_id: Option<String>,
    parent: Option<String>,
    /// Milliseconds since the epoch of the last line.
    clock: i64,
    bytes: u64,
    /// The first responses of a main conversation, kept to be copied into a resumed session.
    captured: Vec<Response>,
}

/// One response as written: `message.id` and `requestId`, the usage counted for it, its lines.
type Response = (Counted, Vec<String>);

/// What a response adds to its session: `(key, usage)` for itself and for each advisor step.
type Counted = Vec<(String, [u64; 4])>;

/// The model the advisor tool consults.
const ADVISOR_MODEL: &str = "claude-opus-4-8";

/// Responses a resumed session copies from the session before it.
const RESUME_COPIES: usize = 3;

impl Writer<'_> {
    fn line(&mut self, s: &str) {
        self.out.write_all(s.as_bytes()).unwrap();
        self.out.write_all(b"\n").unwrap();
        self.bytes += s.len() as u64 + 1;
    }

    fn tick(&mut self, max_ms: u64) -> String {
        self.clock += self.rng.range(5, max_ms) as i64;
        jiff::Timestamp::from_millisecond(self.clock)
            .unwrap()
            .strftime("%Y-%m-%dT%H:%M:%S.%3fZ")
            .to_string()
    }

    /// The fields every linked line ends with.
    fn tail(&self, ts: &str) -> String {
        let agent = self
            .agent_id
            .as_ref()
            .map(|a| format!(",\"agentId\":\"{a}\""))
            .unwrap_or_default();
        format!(
            "\"timestamp\":\"{ts}\",\"userType\":\"external\",\"entrypoint\":\"cli\",\"cwd\":{},\"sessionId\":\"{}\",\"version\":\"2.1.197\",\"gitBranch\":\"main\"{agent}}}",
            js(&self.cwd),
            self.session
        )
    }

    fn head(&mut self) -> (String, String) {
        let uuid = self.rng.uuid();
        let parent = match &self.parent {
            Some(p) => format!("\"{p}\""),
            None => "null".into(),
        };
        let head = format!(
            "{{\"parentUuid\":{parent},\"isSidechain\":{}",
            self.sidechain
        );
        self.parent = Some(uuid.clone());
        (head, uuid)
    }

    fn prompt(&mut self, text: &str) {
        let ts = self.tick(60_000);
        if !self.sidechain {
            let line = format!(
                "{{\"type\":\"queue-operation\",\"operation\":\"enqueue\",\"timestamp\":\"{ts}\",\"sessionId\":\"{}\",\"content\":{}}}",
                self.session,
                js(text)
            );
            self.line(&line);
        }
        let (head, uuid) = self.head();
        let tail = self.tail(&ts);
        let line = format!(
            "{head},\"type\":\"user\",\"message\":{{\"role\":\"user\",\"content\":{}}},\"uuid\":\"{uuid}\",\"permissionMode\":\"default\",{tail}",
            js(text)
        );
        self.line(&line);
        if !self.sidechain && self.rng.chance(30) {
            let (head, uuid) = self.head();
            let tail = self.tail(&ts);
            let listing = words(self.rng, 120);
            let line = format!(
                "{head},\"attachment\":{{\"type\":\"skill_listing\",\"content\":{}}},\"type\":\"attachment\",\"uuid\":\"{uuid}\",{tail}",
                js(&listing)
            );
            self.line(&line);
        }
    }

    /// One API response: one line per content block, each repeating the usage. Returns the
    /// tool call, if it made one, and the usage counted for it.
    fn response(&mut self, model: &str, last: bool) -> (Option<(String, String)>, Counted) {
        let msg = format!("msg_01{}", self.rng.base62(22));
        let req = format!("req_011C{}", self.rng.base62(18));
        let usage = [
            self.rng.range(1, 60),
            self.rng.range(20, 1500),
            if self.rng.chance(40) {
                self.rng.range(200, 8000)
            } else {
                0
            },
            self.rng.range(8_000, 160_000),
        ];
        let mut blocks: Vec<String> = Vec::new();
        if self.rng.chance(45) {
            let n = self.rng.range(20, 300);
            let thinking = words(self.rng, n);
            let sig = self.rng.base62(240);
            blocks.push(format!(
                "{{\"type\":\"thinking\",\"thinking\":{},\"signature\":\"{sig}\"}}",
                js(&thinking)
            ));
        }
        if last || self.rng.chance(60) {
            let n = self.rng.range(5, 120);
            blocks.push(format!(
                "{{\"type\":\"text\",\"text\":{}}}",
                js(&words(self.rng, n))
            ));
        }
        let mut call = None;
        if !last {
            let tool = TOOLS[self.rng.below(TOOLS.len() as u64) as usize];
            let id = format!("toolu_01{}", self.rng.base62(22));
            let input = match tool {
                "Bash" => format!(
                    "{{\"command\":{},\"description\":\"Run the tests\"}}",
                    js("cargo test --all 2>&1 | tail -40")
                ),
                "Edit" | "Write" => {
                    let n = self.rng.range(2, 40);
                    let body = file_dump(self.rng, n);
                    format!(
                        "{{\"file_path\":{},\"old_string\":\"x\",\"new_string\":{}}}",
                        js(&format!("{}/src/lib.rs", self.cwd)),
                        js(&body)
                    )
                }
                _ => format!(
                    "{{\"file_path\":{}}}",
                    js(&format!("{}/src/main.rs", self.cwd))
                ),
            };
            blocks.push(format!(
                "{{\"type\":\"tool_use\",\"id\":\"{id}\",\"name\":\"{tool}\",\"input\":{input}}}"
            ));
            call = Some((id, tool.to_string()));
        }
        let stop = if call.is_some() {
            "tool_use"
        } else {
            "end_turn"
        };
        let n = blocks.len();
        let key = format!("{msg}\n{req}");
        let mut counted = vec![(key, usage)];
        // Sometimes the advisor tool was consulted: its step, on its own model, is in
        // `usage.iterations` and not in the response's counters.
        let iterations = if self.rng.chance(4) {
            let advice = [
                self.rng.range(1_000, 20_000),
                self.rng.range(50, 800),
                0,
                self.rng.range(0, 50_000),
            ];
            counted.push((format!("{msg}:advisor:0\n{req}"), advice));
            format!(
                "[{{\"type\":\"message\",\"input_tokens\":{},\"output_tokens\":{}}},{{\"type\":\"advisor_message\",\"model\":\"{ADVISOR_MODEL}\",\"input_tokens\":{},\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":{},\"output_tokens\":{}}}]",
                usage[0], usage[1], advice[0], advice[3], advice[1]
            )
        } else {
            "[]".to_string()
        };
        let capture = !self.sidechain && self.captured.len() < RESUME_COPIES;
        let mut lines = Vec::new();
        for (i, block) in blocks.into_iter().enumerate() {
            let ts = self.tick(3_000);
            let (head, uuid) = self.head();
            let tail = self.tail(&ts);
            // Streaming can write an early block before the final output count; the largest
            // usage is the response's.
            let out = if i + 1 < n && self.rng.chance(20) {
                usage[1] / 2
            } else {
                usage[1]
            };
            let stop_reason = if i + 1 == n {
                format!("\"{stop}\"")
            } else {
                "null".into()
            };
            let line = format!(
                "{head},\"message\":{{\"model\":\"{model}\",\"id\":\"{msg}\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[{block}],\"stop_reason\":{stop_reason},\"stop_sequence\":null,\"usage\":{{\"input_tokens\":{},\"cache_creation_input_tokens\":{},\"cache_read_input_tokens\":{},\"output_tokens\":{out},\"server_tool_use\":{{\"web_search_requests\":0,\"web_fetch_requests\":0}},\"service_tier\":\"standard\",\"cache_creation\":{{\"ephemeral_1h_input_tokens\":0,\"ephemeral_5m_input_tokens\":{}}},\"iterations\":{iterations}}}}},\"requestId\":\"{req}\",\"type\":\"assistant\",\"uuid\":\"{uuid}\",{tail}",
                usage[0], usage[2], usage[3], usage[2]
            );
            self.line(&line);
            if capture {
                lines.push(line);
            }
        }
        if capture {
            self.captured.push((counted.clone(), lines));
        }
        (call, counted)
    }

    fn tool_result(&mut self, id: &str, tool: &str) {
        let ts = self.tick(20_000);
        let (head, uuid) = self.head();
        let tail = self.tail(&ts);
        let error = self.rng.chance(5);
        let (content, result) = match tool {
            "Read" | "Grep" | "Glob" => {
                let n = self.rng.range(5, 150);
                let dump = file_dump(self.rng, n);
                let result = format!(
                    "{{\"type\":\"text\",\"file\":{{\"filePath\":{},\"content\":{},\"numLines\":{n},\"startLine\":1,\"totalLines\":{n}}}}}",
                    js(&format!("{}/src/main.rs", self.cwd)),
                    js(&dump)
                );
                (dump, result)
            }
            "Bash" => {
                let n = self.rng.range(5, 200);
                let out = words(self.rng, n);
                let result = format!(
                    "{{\"stdout\":{},\"stderr\":\"\",\"interrupted\":false,\"isImage\":false}}",
                    js(&out)
                );
                (out, result)
            }
            _ => {
                let text = format!("The file {}/src/lib.rs has been updated.", self.cwd);
                let result = format!(
                    "{{\"filePath\":{},\"structuredPatch\":[],\"userModified\":false}}",
                    js(&format!("{}/src/lib.rs", self.cwd))
                );
                (text, result)
            }
        };
        let line = format!(
            "{head},\"type\":\"user\",\"message\":{{\"role\":\"user\",\"content\":[{{\"tool_use_id\":\"{id}\",\"type\":\"tool_result\",\"content\":{},\"is_error\":{error}}}]}},\"uuid\":\"{uuid}\",\"toolUseResult\":{result},{tail}",
            js(&content)
        );
        self.line(&line);
    }

    fn system(&mut self, compact: bool) {
        let ts = self.tick(1_000);
        let (head, uuid) = self.head();
        let tail = self.tail(&ts);
        let line = if compact {
            self.parent = None;
            format!(
                "{{\"parentUuid\":null,\"logicalParentUuid\":null,\"isSidechain\":false,\"type\":\"system\",\"subtype\":\"compact_boundary\",\"content\":\"Conversation compacted\",\"level\":\"info\",\"compactMetadata\":{{\"trigger\":\"auto\",\"preTokens\":{}}},\"uuid\":\"{uuid}\",{tail}",
                self.rng.range(100_000, 190_000)
            )
        } else {
            let _ = head;
            format!(
                "{{\"parentUuid\":null,\"isSidechain\":false,\"type\":\"system\",\"subtype\":\"turn_duration\",\"durationMs\":{},\"uuid\":\"{uuid}\",{tail}",
                self.rng.range(1_000, 90_000)
            )
        };
        self.line(&line);
    }
}

/// Totals per session that both tools must find: what the generator wrote, counted once.
type Expected = BTreeMap<String, [u64; 4]>;

fn add(into: &mut [u64; 4], u: [u64; 4]) {
    for i in 0..4 {
        into[i] += u[i];
    }
}

/// What was written.
struct Corpus {
    bytes: u64,
    files: usize,
    /// Sessions that start with copies of another session's responses.
    resumed: usize,
    expected: Expected,
}

/// Writes sessions under `projects` until `target` bytes.
fn generate(projects: &Path, target: u64, project_count: usize) -> Corpus {
    let mut rng = Rng(0x5eed_1234_abcd_0042);
    // Every response written: (file, session, key, usage). A response copied into several
    // files counts once, for the file that comes first in path order (both tools read in that
    // order, and keep the first of equal copies).
    let mut written: Vec<(PathBuf, String, String, [u64; 4])> = Vec::new();
    let mut previous: BTreeMap<u64, (String, Vec<Response>)> = BTreeMap::new();
    let mut resumed = 0;
    let (mut bytes, mut files) = (0u64, 0usize);
    // 2026-08-01T00:00:00Z.
    let start_ms: i64 = 1_785_542_400_000;
    let mut n = 0u64;
    while bytes < target {
        n += 1;
        let proj = rng.below(project_count as u64);
        let cwd = format!("/home/dev/code/project-{proj}");
        let dir = projects.join(cwd.replace(['/', '.'], "-"));
        std::fs::create_dir_all(&dir).unwrap();
        let session = rng.uuid();
        // Session sizes spread from a quick question to a day's work.
        let turns = match rng.below(10) {
            0..=5 => rng.range(1, 3),
            6..=8 => rng.range(3, 12),
            _ => rng.range(12, 40),
        };
        let clock = start_ms + rng.below(90 * 86_400_000) as i64;
        let path = dir.join(format!("{session}.jsonl"));
        let mut seed = Rng(rng.next() | 1);
        let mut w = Writer {
            out: std::io::BufWriter::new(std::fs::File::create(&path).unwrap()),
            rng: &mut seed,
            session: session.clone(),
            cwd: cwd.clone(),
            sidechain: false,
            agent_id: None,
            parent: None,
            clock,
            bytes: 0,
            captured: Vec::new(),
        };
        files += 1;
        let model = MODELS[(n % MODELS.len() as u64) as usize];
        let mut subagents = Vec::new();
        // A resumed session (older Claude Code): it starts with copies of the previous
        // session's first responses, same ids, same usage.
        if let Some((old, copies)) = previous.get(&proj)
            && w.rng.chance(15)
        {
            resumed += 1;
            for (counted, lines) in copies {
                for line in lines {
                    w.line(&line.replace(old.as_str(), &session));
                }
                for (key, usage) in counted {
                    written.push((path.clone(), session.clone(), key.clone(), *usage));
                }
            }
        }
        for turn in 0..turns {
            let nw = w.rng.range(5, 80);
            let text = words(w.rng, nw);
            w.prompt(&text);
            let steps = w.rng.range(1, 8);
            for step in 0..steps {
                let (call, counted) = w.response(model, step + 1 == steps);
                for (key, usage) in counted {
                    written.push((path.clone(), session.clone(), key, usage));
                }
                if let Some((id, tool)) = call {
                    if w.rng.chance(8) {
                        // A Task subagent: inline sidechain lines (2.0.x) or its own file.
                        if w.rng.chance(50) {
                            let saved = w.parent.take();
                            w.sidechain = true;
                            w.prompt("Explore the code base and report");
                            for s in 0..w.rng.range(1, 4) {
                                let (_, counted) = w.response(SUBAGENT_MODEL, s == 0);
                                for (key, u) in counted {
                                    written.push((path.clone(), session.clone(), key, u));
                                }
                            }
                            w.sidechain = false;
                            w.parent = saved;
                        } else {
                            subagents.push((id.clone(), w.clock));
                        }
                    }
                    w.tool_result(&id, &tool);
                }
            }
            if !w.sidechain && w.rng.chance(20) {
                w.system(false);
            }
            if turn > 0 && turn % 25 == 0 {
                w.system(true);
            }
        }
        if w.rng.chance(50) {
            let leaf = w.parent.clone().unwrap_or_default();
            let line = format!(
                "{{\"type\":\"summary\",\"summary\":{},\"leafUuid\":\"{leaf}\"}}",
                js("Fix the parser and update tests")
            );
            w.line(&line);
        }
        w.out.flush().unwrap();
        bytes += w.bytes;
        let captured = std::mem::take(&mut w.captured);
        drop(w);
        previous.insert(proj, (session.clone(), captured));
        // Subagent files: <session>/subagents/agent-<id>.jsonl with a .meta.json sidecar.
        for (tool_id, clock) in subagents {
            let sub = dir.join(&session).join("subagents");
            std::fs::create_dir_all(&sub).unwrap();
            let agent = seed.base62(17).to_lowercase();
            std::fs::write(
                sub.join(format!("agent-{agent}.meta.json")),
                format!("{{\"toolUseId\":\"{tool_id}\",\"agentType\":\"Explore\"}}"),
            )
            .unwrap();
            let sub_path = sub.join(format!("agent-{agent}.jsonl"));
            let mut w = Writer {
                out: std::io::BufWriter::new(std::fs::File::create(&sub_path).unwrap()),
                rng: &mut seed,
                session: session.clone(),
                cwd: cwd.clone(),
                sidechain: true,
                agent_id: Some(agent),
                parent: None,
                clock,
                bytes: 0,
                captured: Vec::new(),
            };
            files += 1;
            w.prompt("Search for the config loader");
            let steps = w.rng.range(1, 6);
            for s in 0..steps {
                let (call, counted) = w.response(SUBAGENT_MODEL, s + 1 == steps);
                for (key, u) in counted {
                    written.push((sub_path.clone(), session.clone(), key, u));
                }
                if let Some((id, tool)) = call {
                    w.tool_result(&id, &tool);
                }
            }
            w.out.flush().unwrap();
            bytes += w.bytes;
        }
    }
    written.sort_by(|a, b| a.0.cmp(&b.0));
    let mut seen = std::collections::HashSet::new();
    let mut expected = Expected::new();
    for (_, session, key, usage) in written {
        if seen.insert(key) {
            add(expected.entry(session).or_default(), usage);
        }
    }
    Corpus {
        bytes,
        files,
        resumed,
        expected,
    }
}

// ---------------------------------------------------------------------------------------------
// Measuring

struct Sample {
    wall: Duration,
    max_rss_kib: u64,
}

/// Runs `cmd` with stdout into `out`, and returns its wall time and peak RSS (from `wait4`).
fn measure(cmd: &mut Command, out: &Path) -> Sample {
    let stdout = std::fs::File::create(out).unwrap();
    let err_path = out.with_extension("stderr");
    let stderr = std::fs::File::create(&err_path).unwrap();
    let t = Instant::now();
    // Reaped by wait4 below, which also gives the peak RSS that `wait()` does not.
    #[allow(clippy::zombie_processes)]
    let child = cmd
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value, which wait4 fills in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child; `status` and `usage` outlive the call.
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    let wall = t.elapsed();
    assert_eq!(pid, child.id() as libc::pid_t, "wait4 failed");
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    assert!(
        ok,
        "{cmd:?} failed (status {status:#x}):\n{}",
        std::fs::read_to_string(&err_path)
            .unwrap_or_default()
            .chars()
            .take(3000)
            .collect::<String>()
    );
    Sample {
        wall,
        // Linux reports ru_maxrss in KiB.
        max_rss_kib: usage.ru_maxrss as u64,
    }
}

/// The median wall time and the largest peak RSS of some runs.
fn summarize(runs: Vec<Sample>) -> Sample {
    let mut walls: Vec<Duration> = runs.iter().map(|s| s.wall).collect();
    walls.sort();
    Sample {
        wall: walls[walls.len() / 2],
        max_rss_kib: runs.iter().map(|s| s.max_rss_kib).max().unwrap_or(0),
    }
}

/// Runs `make()` `rounds` times; the median wall time and the largest peak RSS.
fn median(rounds: usize, out: &Path, mut make: impl FnMut() -> Command) -> Sample {
    summarize((0..rounds).map(|_| measure(&mut make(), out)).collect())
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn peer(env: &str, rel: &str) -> Option<PathBuf> {
    if let Ok(p) = std::env::var(env) {
        return Some(PathBuf::from(p));
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".test-deps/bench")
        .join(rel);
    p.is_file().then_some(p)
}

/// Per-session token counts from `aisys transcript stats --by session --format json`.
fn aisys_sessions(out: &Path) -> Expected {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(out).unwrap()).unwrap();
    v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            let n = |k: &str| g[k].as_u64().unwrap();
            (
                g["key"].as_str().unwrap().to_string(),
                [
                    n("input_tokens"),
                    n("output_tokens"),
                    n("cache_creation_tokens"),
                    n("cache_read_tokens"),
                ],
            )
        })
        .collect()
}

/// Per-session token counts from `ccusage claude session --json`.
fn ccusage_sessions(out: &Path) -> Expected {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(out).unwrap()).unwrap();
    v["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let n = |k: &str| s[k].as_u64().unwrap();
            (
                s["sessionId"].as_str().unwrap().to_string(),
                [
                    n("inputTokens"),
                    n("outputTokens"),
                    n("cacheCreationTokens"),
                    n("cacheReadTokens"),
                ],
            )
        })
        .collect()
}

/// Panics, listing the first differences, unless `got` equals `want`.
fn same_totals(what: &str, got: &Expected, want: &Expected) {
    if got == want {
        return;
    }
    let mut diffs = Vec::new();
    for (k, w) in want {
        match got.get(k) {
            Some(g) if g == w => {}
            Some(g) => diffs.push(format!("{k}: {g:?}, want {w:?}")),
            None => diffs.push(format!("{k}: missing")),
        }
    }
    for k in got.keys().filter(|k| !want.contains_key(*k)) {
        diffs.push(format!("{k}: not a session of the corpus"));
    }
    panic!(
        "{what}: per-session token totals differ in {} of {} sessions [input, output, cache write, cache read]:\n  {}",
        diffs.len(),
        want.len(),
        diffs
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n  ")
    );
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let (target, rounds, project_count) = if bench {
        (CORPUS_BYTES, ROUNDS, PROJECTS)
    } else {
        (SMOKE_CORPUS_BYTES, 1, SMOKE_PROJECTS)
    };
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let root = match std::env::var_os("AISYS_BENCH_KEEP") {
        Some(d) => PathBuf::from(d),
        None => tmp.path().to_path_buf(),
    };
    let home = root.join("claude");
    let projects = home.join("projects");
    let _ = std::fs::remove_dir_all(&projects);
    std::fs::create_dir_all(&projects).unwrap();
    let empty_home = root.join("empty-home");
    std::fs::create_dir_all(&empty_home).unwrap();
    let outputs = root.join("out");
    std::fs::create_dir_all(&outputs).unwrap();

    if !bench {
        println!(
            "smoke run (a debug build on a small corpus): the figures are not the benchmark's"
        );
    }
    let t = Instant::now();
    let Corpus {
        bytes,
        files,
        resumed,
        expected,
    } = generate(&projects, target, project_count);
    let mb = bytes as f64 / 1e6;
    println!(
        "corpus: {mb:.1} MB in {files} files, {} sessions ({resumed} resumed with copied responses), {project_count} projects (written in {:.1} s)",
        expected.len(),
        secs(t.elapsed())
    );

    let aisys = env!("CARGO_BIN_EXE_aisys");
    let ccusage = peer(
        "AISYS_BENCH_CCUSAGE",
        "node_modules/@ccusage/ccusage-linux-x64/bin/ccusage",
    );
    let ccl = peer("AISYS_BENCH_CLAUDE_CODE_LOG", "venv/bin/claude-code-log");
    if bench {
        assert!(
            ccusage.is_some() && ccl.is_some(),
            "the peers are missing: run scripts/bench-transcripts, which installs them into .test-deps/bench"
        );
    }
    // Warm the page cache, so that every tool reads the corpus from memory.
    for entry in walk(&projects) {
        let _ = std::fs::read(entry);
    }
    let base = |program: &Path| {
        let mut c = Command::new(program);
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &empty_home)
            .env("TZ", "UTC")
            .env("NO_COLOR", "1")
            .env("CLAUDE_CONFIG_DIR", &home);
        c
    };

    // 1. stats against ccusage, alternating so that both see the same machine, and their
    //    totals against what was written.
    let stats_out = outputs.join("aisys-stats.json");
    let cc_out = outputs.join("ccusage.json");
    let aisys_stats = || {
        let mut c = base(Path::new(aisys));
        c.args(["transcript", "stats", "--by", "session", "--format", "json"]);
        c
    };
    let ccusage_session = |cc: &Path| {
        let mut c = base(cc);
        c.args(["claude", "session", "--json", "--offline"]);
        c
    };
    let (mut a_runs, mut c_runs) = (Vec::new(), Vec::new());
    for _ in 0..rounds * STATS_ROUNDS_FACTOR {
        a_runs.push(measure(&mut aisys_stats(), &stats_out));
        if let Some(cc) = &ccusage {
            c_runs.push(measure(&mut ccusage_session(cc), &cc_out));
        }
    }
    let stats = summarize(a_runs);
    same_totals(
        "aisys transcript stats vs the generated corpus",
        &aisys_sessions(&stats_out),
        &expected,
    );
    println!(
        "aisys transcript stats --by session --format json    {:>8.3} s  {:>7.1} MB/s  peak RSS {:>6.1} MiB  totals match the corpus",
        secs(stats.wall),
        mb / secs(stats.wall),
        stats.max_rss_kib as f64 / 1024.0
    );
    if ccusage.is_some() {
        let c = summarize(c_runs);
        same_totals(
            "ccusage claude session vs aisys transcript stats",
            &ccusage_sessions(&cc_out),
            &aisys_sessions(&stats_out),
        );
        println!(
            "ccusage claude session --json --offline              {:>8.3} s  {:>7.1} MB/s  peak RSS {:>6.1} MiB  totals match aisys",
            secs(c.wall),
            mb / secs(c.wall),
            c.max_rss_kib as f64 / 1024.0
        );
        println!(
            "  stats speed-up over ccusage: {:.2}x (target 2x)",
            secs(c.wall) / secs(stats.wall)
        );
    } else {
        println!("ccusage: not installed, skipped (scripts/bench-transcripts installs it)");
    }

    // 2. parse to Markdown against claude-code-log (target 20x); 3. to HTML against its HTML
    //    (its default output; stated, no target).
    let against_ccl = |format: &str, ccl_args: &[&str], target: &str| -> Sample {
        let ours = median(rounds, &outputs.join(format!("aisys.{format}")), || {
            let mut c = base(Path::new(aisys));
            c.args(["transcript", "parse", "--format", format])
                .arg(&projects);
            c
        });
        println!(
            "aisys transcript parse --format {format:<8}            {:>8.3} s  {:>7.1} MB/s  peak RSS {:>6.1} MiB",
            secs(ours.wall),
            mb / secs(ours.wall),
            ours.max_rss_kib as f64 / 1024.0
        );
        let Some(ccl) = &ccl else {
            println!(
                "claude-code-log: not installed, skipped (scripts/bench-transcripts installs it)"
            );
            return ours;
        };
        let (ccl_dir, log) = (
            outputs.join(format!("claude-code-log-{format}")),
            outputs.join(format!("claude-code-log-{format}.txt")),
        );
        // One cold run: it is slow, and its cache would make a second run a different thing.
        let c = median(1, &log, || {
            let _ = std::fs::remove_dir_all(&ccl_dir);
            let mut c = base(ccl);
            c.args(["--all-projects", "--projects-dir"]).arg(&projects);
            c.args(ccl_args).args(["--no-cache", "-o"]).arg(&ccl_dir);
            c
        });
        println!(
            "claude-code-log --all-projects {:<12} --no-cache {:>8.3} s  {:>7.1} MB/s  peak RSS {:>6.1} MiB",
            ccl_args.join(" "),
            secs(c.wall),
            mb / secs(c.wall),
            c.max_rss_kib as f64 / 1024.0
        );
        println!(
            "  {format} speed-up over claude-code-log: {:.1}x ({target})",
            secs(c.wall) / secs(ours.wall)
        );
        ours
    };
    let md = against_ccl("markdown", &["-f", "md"], "target 20x");
    let html = against_ccl("html", &[], "stated, no target");

    // 4. parse to JSON lines: throughput.
    let jsonl = median(rounds, &outputs.join("aisys.jsonl"), || {
        let mut c = base(Path::new(aisys));
        c.args(["transcript", "parse", "--format", "jsonl"])
            .arg(&projects);
        c
    });
    println!(
        "aisys transcript parse --format jsonl                {:>8.3} s  {:>7.1} MB/s  peak RSS {:>6.1} MiB  (target 400 MB/s)",
        secs(jsonl.wall),
        mb / secs(jsonl.wall),
        jsonl.max_rss_kib as f64 / 1024.0
    );

    // 5. Peak memory over the whole corpus.
    let peak = [&stats, &md, &html, &jsonl].map(|s| s.max_rss_kib);
    let peak = peak.into_iter().max().unwrap_or(0);
    println!(
        "aisys peak RSS over the corpus: {:.1} MiB (target < 64 MiB)",
        peak as f64 / 1024.0
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}
