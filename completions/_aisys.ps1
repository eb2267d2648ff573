
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'aisys' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'aisys'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'aisys' {
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read settings from this file instead of ~/.config/aisys/config.toml')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Start the agent server that `aisys chat` and other WebSocket clients talk to')
            [CompletionResult]::new('chat', 'chat', [CompletionResultType]::ParameterValue, 'Chat with coding agents in a terminal UI')
            [CompletionResult]::new('run', 'run', [CompletionResultType]::ParameterValue, 'Run one query with a coding agent in a sandbox, and stream what it does')
            [CompletionResult]::new('docs', 'docs', [CompletionResultType]::ParameterValue, 'Browse a project''s docs, and what Claude Code loads there, in the browser')
            [CompletionResult]::new('transcript', 'transcript', [CompletionResultType]::ParameterValue, 'Read agent transcripts and streams: convert them, count their cost, list sessions')
            [CompletionResult]::new('entities', 'entities', [CompletionResultType]::ParameterValue, 'Find, inspect and install Claude Code plugins, skills, commands, agents and marketplaces')
            [CompletionResult]::new('agents', 'agents', [CompletionResultType]::ParameterValue, 'Show and install the coding agents aisys can run')
            [CompletionResult]::new('sandboxes', 'sandboxes', [CompletionResultType]::ParameterValue, 'Show or remove aisys''s sandboxes on Modal')
            [CompletionResult]::new('doctor', 'doctor', [CompletionResultType]::ParameterValue, 'Check that this machine can run agents, and say how to fix what it lacks')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a completion script for your shell')
            [CompletionResult]::new('generate', 'generate', [CompletionResultType]::ParameterValue, 'Write the generated reference files')
            [CompletionResult]::new('sandbox-init', 'sandbox-init', [CompletionResultType]::ParameterValue, 'Run a program inside a local sandbox behind its network relay (started by aisys itself)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'aisys;serve' {
            [CompletionResult]::new('--bind', '--bind', [CompletionResultType]::ParameterName, 'Address and port to listen on. A non-loopback address makes the token the only protection')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Folder for the session store, workspaces and the token (default: aisys''s data folder)')
            [CompletionResult]::new('--sandbox', '--sandbox', [CompletionResultType]::ParameterName, 'Sandbox backend for new sessions')
            [CompletionResult]::new('--agent', '--agent', [CompletionResultType]::ParameterName, 'Agent for new sessions that do not name one')
            [CompletionResult]::new('--max-sessions', '--max-sessions', [CompletionResultType]::ParameterName, 'Most sessions the server keeps at once; `session.create` beyond it gets error `limit`')
            [CompletionResult]::new('--idle-timeout', '--idle-timeout', [CompletionResultType]::ParameterName, 'Release a session''s sandbox after this long without a turn, e.g. `10m` (the session stays)')
            [CompletionResult]::new('--token-file', '--token-file', [CompletionResultType]::ParameterName, 'Read the token from this file instead of `<data-dir>/token` (or set AISYS_TOKEN)')
            [CompletionResult]::new('--allow-origin', '--allow-origin', [CompletionResultType]::ParameterName, 'Also accept WebSocket upgrades whose Origin is this one (repeatable)')
            [CompletionResult]::new('--allow-host', '--allow-host', [CompletionResultType]::ParameterName, 'Also answer requests that name the server by this host name (repeatable; loopback names and IP addresses are always answered). Guards against DNS rebinding')
            [CompletionResult]::new('--workspace-root', '--workspace-root', [CompletionResultType]::ParameterName, 'Let clients name workspaces under this folder (repeatable; none by default)')
            [CompletionResult]::new('--max-pids', '--max-pids', [CompletionResultType]::ParameterName, 'Most processes and threads in the sandbox at once, or `unlimited` [default: 1024]')
            [CompletionResult]::new('--max-memory', '--max-memory', [CompletionResultType]::ParameterName, 'Most memory of the sandbox''s processes together, e.g. 512M or 8G, or `unlimited` [default: 4G]')
            [CompletionResult]::new('--max-cpu-time', '--max-cpu-time', [CompletionResultType]::ParameterName, 'Most CPU time of each process in the sandbox, e.g. 30m, or `unlimited` [default: unlimited]')
            [CompletionResult]::new('--network', '--network', [CompletionResultType]::ParameterName, 'Local sandboxes'' network: limited (default: only the model endpoint and the allowed hosts) or host (the host''s network, unrestricted)')
            [CompletionResult]::new('--allow-net', '--allow-net', [CompletionResultType]::ParameterName, 'Let local sandboxes reach this HOST:PORT too (repeatable), e.g. `github.com:443`')
            [CompletionResult]::new('--store', '--store', [CompletionResultType]::ParameterName, 'Where sessions and events are kept: `sqlite` (default: a file in the data folder) or a PostgreSQL database, `postgres://USER:PASSWORD@HOST:PORT/DATABASE`. The environment variable keeps a password off the command line')
            [CompletionResult]::new('--sweep-interval', '--sweep-interval', [CompletionResultType]::ParameterName, 'How often unwatched idle sessions are unloaded from memory (tests shorten it)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read settings from this file instead of ~/.config/aisys/config.toml')
            [CompletionResult]::new('--no-agent-install', '--no-agent-install', [CompletionResultType]::ParameterName, 'Do not install the default agent''s pinned CLI when it is missing (turns then fail until `aisys agents install` has run)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'aisys;chat' {
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'WebSocket URL of the server (default: the configured one, ws://127.0.0.1:7777/ws)')
            [CompletionResult]::new('--token', '--token', [CompletionResultType]::ParameterName, 'Token for the server (default: read from the server''s data folder, or AISYS_TOKEN)')
            [CompletionResult]::new('--session', '--session', [CompletionResultType]::ParameterName, 'Open this session')
            [CompletionResult]::new('--agent', '--agent', [CompletionResultType]::ParameterName, 'Agent for new sessions')
            [CompletionResult]::new('--sandbox', '--sandbox', [CompletionResultType]::ParameterName, 'Sandbox backend for new sessions')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'The agent profile new sessions get: `user`, `none`, or a `[profiles.NAME]` of the server''s config file (default: the server''s default)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read settings from this file instead of ~/.config/aisys/config.toml')
            [CompletionResult]::new('--new', '--new', [CompletionResultType]::ParameterName, 'Start with a new session')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'aisys;run' {
            [CompletionResult]::new('--agent', '--agent', [CompletionResultType]::ParameterName, 'Which agent to run')
            [CompletionResult]::new('--sandbox', '--sandbox', [CompletionResultType]::ParameterName, 'Where to run it: local (bubblewrap), host (no isolation) or modal')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'The folder the agent works in (default: a new folder under aisys''s data folder)')
            [CompletionResult]::new('--model', '--model', [CompletionResultType]::ParameterName, 'The model to ask, e.g. claude-sonnet-4-5')
            [CompletionResult]::new('--permission-mode', '--permission-mode', [CompletionResultType]::ParameterName, 'Which tool requests need a decision (Claude Code''s permission modes)')
            [CompletionResult]::new('--allow-tool', '--allow-tool', [CompletionResultType]::ParameterName, 'Allow this tool without asking (repeatable), e.g. `Bash(git *)`')
            [CompletionResult]::new('--deny-tool', '--deny-tool', [CompletionResultType]::ParameterName, 'Deny this tool (repeatable)')
            [CompletionResult]::new('--max-turns', '--max-turns', [CompletionResultType]::ParameterName, 'Stop after this many agent turns')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Give up after this long, e.g. `90s` or `10m` (exit 124)')
            [CompletionResult]::new('--network', '--network', [CompletionResultType]::ParameterName, 'The local sandbox''s network: limited (default: only the model endpoint and the allowed hosts) or host (the host''s network, unrestricted)')
            [CompletionResult]::new('--allow-net', '--allow-net', [CompletionResultType]::ParameterName, 'Let the local sandbox reach this HOST:PORT too (repeatable), e.g. `github.com:443`')
            [CompletionResult]::new('--env', '--env', [CompletionResultType]::ParameterName, 'Pass this environment variable into the sandbox too (repeatable)')
            [CompletionResult]::new('--resume', '--resume', [CompletionResultType]::ParameterName, 'Continue the agent''s earlier conversation with this id')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'What the agent gets of skills, plugins, subagents, commands and MCP servers: `user` (what your own Claude Code loads; the default), `none`, or a `[profiles.NAME]` of the config')
            [CompletionResult]::new('--agent-bin', '--agent-bin', [CompletionResultType]::ParameterName, 'Use this agent binary instead of the installed one')
            [CompletionResult]::new('--modal-app', '--modal-app', [CompletionResultType]::ParameterName, 'The Modal app sandboxes run in (with --sandbox modal; created if missing)')
            [CompletionResult]::new('--modal-image', '--modal-image', [CompletionResultType]::ParameterName, 'A registry image for Modal sandboxes instead of the default one with the agents')
            [CompletionResult]::new('--max-pids', '--max-pids', [CompletionResultType]::ParameterName, 'Most processes and threads in the sandbox at once, or `unlimited` [default: 1024]')
            [CompletionResult]::new('--max-memory', '--max-memory', [CompletionResultType]::ParameterName, 'Most memory of the sandbox''s processes together, e.g. 512M or 8G, or `unlimited` [default: 4G]')
            [CompletionResult]::new('--max-cpu-time', '--max-cpu-time', [CompletionResultType]::ParameterName, 'Most CPU time of each process in the sandbox, e.g. 30m, or `unlimited` [default: unlimited]')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output: pretty (default on a terminal), jsonl (StreamEvents, default otherwise), json, markdown')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read settings from this file instead of ~/.config/aisys/config.toml')
            [CompletionResult]::new('--ask', '--ask', [CompletionResultType]::ParameterName, 'Ask on the terminal for each tool request')
            [CompletionResult]::new('--sync-back', '--sync-back', [CompletionResultType]::ParameterName, 'With --sandbox modal: copy the files the agent changed back into --workspace afterwards')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'aisys;docs' {
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Port to listen on (0: any free port)')
            [CompletionResult]::new('--bind', '--bind', [CompletionResultType]::ParameterName, 'Address to listen on. A non-loopback address makes the token the only protection')
            [CompletionResult]::new('--project', '--project', [CompletionResultType]::ParameterName, 'The project whose .claude/ the Context tab shows (default: the current folder''s project)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read settings from this file instead of ~/.config/aisys/config.toml')
            [CompletionResult]::new('--open', '--open', [CompletionResultType]::ParameterName, 'Open the viewer in the browser (the default on a terminal)')
            [CompletionResult]::new('--no-open', '--no-open', [CompletionResultType]::ParameterName, 'Do not open a browser')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'aisys;transcript' {
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read settings from this file instead of ~/.config/aisys/config.toml')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('parse', 'parse', [CompletionResultType]::ParameterValue, 'Turn transcripts and agent output streams into readable conversations')
            [CompletionResult]::new('stats', 'stats', [CompletionResultType]::ParameterValue, 'Count tokens and cost in transcripts')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the Claude Code sessions on this machine, newest first')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'aisys;transcript;parse' {
            [CompletionResult]::new('--from', '--from', [CompletionResultType]::ParameterName, 'Input format; auto detects it per file from the first lines')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format (default: from the -o file''s extension, else text on a terminal, jsonl otherwise)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Write to this file instead of stdout; its extension (.md, .html, .json, .jsonl, .txt) picks the format when --format is not given. The file is written whole at the end: an error, or a bad line with --strict, leaves it as it was; without --strict bad lines are reported, the rest is written and the exit status is 3. A folder (existing, or a name ending in `/`) gets one HTML page per session and an index.html that lists them, with a search')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Write to this file instead of stdout; its extension (.md, .html, .json, .jsonl, .txt) picks the format when --format is not given. The file is written whole at the end: an error, or a bad line with --strict, leaves it as it was; without --strict bad lines are reported, the rest is written and the exit status is 3. A folder (existing, or a name ending in `/`) gets one HTML page per session and an index.html that lists them, with a search')
            [CompletionResult]::new('--session', '--session', [CompletionResultType]::ParameterName, 'Only the session with this id, or the one id that starts with it (as `transcript list` shows it). Without INPUT, the session is looked up in Claude Code''s projects folder')
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Only what happened at or after this time: RFC 3339, or a date (YYYY-MM-DD) meaning its midnight in the --tz zone')
            [CompletionResult]::new('--until', '--until', [CompletionResultType]::ParameterName, 'Only what happened before this time: RFC 3339, or a date (YYYY-MM-DD) meaning its midnight in the --tz zone')
            [CompletionResult]::new('--max-output-lines', '--max-output-lines', [CompletionResultType]::ParameterName, 'Cut tool results longer than this many lines (their start and end are kept)')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone of the times shown (and dates given to --since/--until are read in): an IANA name (Europe/Paris), UTC, or local')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read settings from this file instead of ~/.config/aisys/config.toml')
            [CompletionResult]::new('--events', '--events', [CompletionResultType]::ParameterName, 'Print StreamEvents instead of conversation blocks, as JSON lines (--format jsonl; other formats are refused)')
            [CompletionResult]::new('--follow', '--follow', [CompletionResultType]::ParameterName, 'Keep reading as the transcript grows, printing blocks as lines arrive')
            [CompletionResult]::new('--no-sidechains', '--no-sidechains', [CompletionResultType]::ParameterName, 'Leave out subagent conversations')
            [CompletionResult]::new('--no-thinking', '--no-thinking', [CompletionResultType]::ParameterName, 'Leave out thinking blocks')
            [CompletionResult]::new('--strict', '--strict', [CompletionResultType]::ParameterName, 'Stop at the first bad line instead of reporting it and going on')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'aisys;transcript;stats' {
            [CompletionResult]::new('--by', '--by', [CompletionResultType]::ParameterName, 'How to group the counts')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'Time zone days, weeks and months are cut in (and dates given to --since/--until are read in): an IANA name (Europe/Paris), UTC, or local. The table''s header names it')
            [CompletionResult]::new('--pricing', '--pricing', [CompletionResultType]::ParameterName, 'A TOML or JSON file of per-model prices (USD per million tokens) that replaces the built-in ones')
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Only usage at or after this time: RFC 3339, or a date (YYYY-MM-DD) meaning its midnight in the --tz zone')
            [CompletionResult]::new('--until', '--until', [CompletionResultType]::ParameterName, 'Only usage before this time: RFC 3339, or a date (YYYY-MM-DD) meaning its midnight in the --tz zone')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read settings from this file instead of ~/.config/aisys/config.toml')
            [CompletionResult]::new('--strict', '--strict', [CompletionResultType]::ParameterName, 'Stop at the first bad line instead of reporting it and going on')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'aisys;transcript;list' {
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read settings from this file instead of ~/.config/aisys/config.toml')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'aisys;transcript;help' {
            [CompletionResult]::new('parse', 'parse', [CompletionResultType]::ParameterValue, 'Turn transcripts and agent output streams into readable conversations')
            [CompletionResult]::new('stats', 'stats', [CompletionResultType]::ParameterValue, 'Count tokens and cost in transcripts')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the Claude Code sessions on this machine, newest first')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'aisys;transcript;help;parse' {
            break
        }
        'aisys;transcript;help;stats' {
            break
        }
        'aisys;transcript;help;list' {
            break
        }
        'aisys;transcript;help;help' {
            break
        }
        'aisys;entities' {
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read settings from this file instead of ~/.config/aisys/config.toml')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List every entity in every scope, what is active, and what hides what')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one entity: its frontmatter, path and body')
            [CompletionResult]::new('install', 'install', [CompletionResultType]::ParameterValue, 'Install a plugin from a known marketplace, and enable it')
            [CompletionResult]::new('uninstall', 'uninstall', [CompletionResultType]::ParameterValue, 'Uninstall a plugin: its record and enabled flag go; its copy stays in the cache')
            [CompletionResult]::new('enable', 'enable', [CompletionResultType]::ParameterValue, 'Enable an installed plugin in the settings of a scope')
            [CompletionResult]::new('disable', 'disable', [CompletionResultType]::ParameterValue, 'Disable a plugin in the settings of a scope, keeping it installed')
            [CompletionResult]::new('validate', 'validate', [CompletionResultType]::ParameterValue, 'Check a plugin, skill, command or agent the way its author needs')
            [CompletionResult]::new('marketplace', 'marketplace', [CompletionResultType]::ParameterValue, 'Add, list, update and remove plugin marketplaces')
            [CompletionResult]::new('profile', 'profile', [CompletionResultType]::ParameterValue, 'The agent profiles: what a sandboxed agent gets of skills, plugins, subagents, commands, hooks, MCP servers and rules (`user`, `none`, and the config file''s `[profiles.NAME]`)')
            [CompletionResult]::new('mcp', 'mcp', [CompletionResultType]::ParameterValue, 'Add, list, change and remove MCP servers, in the same files as `claude mcp`')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'aisys;entities;list' {
            [CompletionResult]::new('--kind', '--kind', [CompletionResultType]::ParameterName, 'Only this kind')
            [CompletionResult]::new('--scope', '--scope', [CompletionResultType]::ParameterName, 'Only this scope')
            [CompletionResult]::new('--project', '--project', [CompletionResultType]::ParameterName, 'The project whose .claude/ is the project scope (default: the current folder and its git root)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read settings from this file instead of ~/.config/aisys/config.toml')
            [CompletionResult]::new('--strict', '--strict', [CompletionResultType]::ParameterName, 'Treat warnings (bad frontmatter, unreadable files) as a failure (exit 3)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'aisys;entities;show' {
            [CompletionResult]::new('--project', '--project', [CompletionResultType]::ParameterName, 'The project whose .claude/ is the project scope')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read settings from this file instead of ~/.config/aisys/config.toml')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'aisys;entities;install' {
            [CompletionResult]::new('--scope', '--scope', [CompletionResultType]::ParameterName, 'Which settings: user (~/.claude/settings.json), project (.claude/settings.json) or local (.claude/settings.local.json, not shared)')
            [CompletionResult]::new('--project', '--project', [CompletionResultType]::ParameterName, 'The project for --scope project or local (default: the current folder)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read settings from this file instead of ~/.config/aisys/config.toml')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'aisys;entities;uninstall' {
            [CompletionResult]::new('--scope', '--scope', [CompletionResultType]::ParameterName, 'Which settings: user (~/.claude/settings.json), project (.claude/settings.json) or local (.claude/settings.local.json, not shared)')
            [CompletionResult]::new('--project', '--project', [CompletionResultType]::ParameterName, 'The project for --scope project or local (default: the current folder)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read settings from this file instead of ~/.config/aisys/config.toml')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'aisys;entities;enable' {
            [CompletionResult]::new('--scope', '--scope', [CompletionResultType]::ParameterName, 'Which settings: user (~/.claude/settings.json), project (.claude/settings.json) or local (.claude/settings.local.json, not shared)')
            [CompletionResult]::new('--project', '--project', [CompletionResultType]::ParameterName, 'The project for --scope project or local (default: the current folder)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read settings from this file instead of ~/.config/aisys/config.toml')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'aisys;entities;disable' {
            [CompletionResult]::new('--scope', '--scope', [CompletionResultType]::ParameterName, 'Which settings: user (~/.claude/settings.json), project (.claude/settings.json) or local (.claude/settings.local.json, not shared)')
            [CompletionResult]::new('--project', '--project', [CompletionResultType]::ParameterName, 'The project for --scope project or local (default: the current folder)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read settings from this file instead of ~/.config/aisys/config.toml')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'aisys;entities;validate' {
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format: one finding a line, or JSON')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read settings from this file instead of ~/.config/aisys/config.toml')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'aisys;entities;marketplace' {
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read settings from this file instead of ~/.config/aisys/config.toml')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Add a marketplace from a git URL, a GitHub owner/repo, a hosted marketplace.json URL, or a local folder')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the known marketplaces')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Fetch the newest version of one marketplace, or of all')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Remove a marketplace and the plugins installed from it')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'aisys;entities;marketplace;add' {
            [CompletionResult]::new('--scope', '--scope', [CompletionResultType]::ParameterName, 'Where to declare it: user (~/.claude/settings.json), project (.claude/settings.json, shared with the project) or local (.claude/settings.local.json)')
            [CompletionResult]::new('--project', '--project', [CompletionResultType]::ParameterName, 'The project for --scope project or local (default: the current folder)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read settings from this file instead of ~/.config/aisys/config.toml')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'aisys;entities;marketplace;list' {
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read settings from this file instead of ~/.config/aisys/config.toml')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'aisys;entities;marketplace;update' {
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read settings from this file instead of ~/.config/aisys/config.toml')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'aisys;entities;marketplace;remove' {
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read settings from this file instead of ~/.config/aisys/config.toml')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'aisys;entities;marketplace;help' {
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Add a marketplace from a git URL, a GitHub owner/repo, a hosted marketplace.json URL, or a local folder')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the known marketplaces')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Fetch the newest version of one marketplace, or of all')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Remove a marketplace and the plugins installed from it')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'aisys;entities;marketplace;help;add' {
            break
        }
        'aisys;entities;marketplace;help;list' {
            break
        }
        'aisys;entities;marketplace;help;update' {
            break
        }
        'aisys;entities;marketplace;help;remove' {
            break
        }
        'aisys;entities;marketplace;help;help' {
            break
        }
        'aisys;entities;profile' {
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read settings from this file instead of ~/.config/aisys/config.toml')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the profiles and what each holds')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show what one profile resolves to: each entity, where it comes from, what hides what')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'aisys;entities;profile;list' {
            [CompletionResult]::new('--project', '--project', [CompletionResultType]::ParameterName, 'The project whose .claude/ is the project scope (default: the current folder)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read settings from this file instead of ~/.config/aisys/config.toml')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'aisys;entities;profile;show' {
            [CompletionResult]::new('--project', '--project', [CompletionResultType]::ParameterName, 'The project whose .claude/ is the project scope (default: the current folder)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read settings from this file instead of ~/.config/aisys/config.toml')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'aisys;entities;profile;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the profiles and what each holds')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show what one profile resolves to: each entity, where it comes from, what hides what')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'aisys;entities;profile;help;list' {
            break
        }
        'aisys;entities;profile;help;show' {
            break
        }
        'aisys;entities;profile;help;help' {
            break
        }
        'aisys;entities;mcp' {
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read settings from this file instead of ~/.config/aisys/config.toml')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the MCP servers of every scope (local, project, user)')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Add a server: a command to run (stdio) or a URL (http, sse)')
            [CompletionResult]::new('edit', 'edit', [CompletionResultType]::ParameterValue, 'Change an existing server: give it again as `add` would; it keeps its place in the file, and keys of its entry that `add` does not write')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Remove a server')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'aisys;entities;mcp;list' {
            [CompletionResult]::new('--project', '--project', [CompletionResultType]::ParameterName, 'The project folder (default: the current folder)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read settings from this file instead of ~/.config/aisys/config.toml')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'aisys;entities;mcp;add' {
            [CompletionResult]::new('-t', '-t', [CompletionResultType]::ParameterName, 'How Claude Code talks to it')
            [CompletionResult]::new('--transport', '--transport', [CompletionResultType]::ParameterName, 'How Claude Code talks to it')
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'An environment variable for a stdio server, KEY=value (repeatable)')
            [CompletionResult]::new('--env', '--env', [CompletionResultType]::ParameterName, 'An environment variable for a stdio server, KEY=value (repeatable)')
            [CompletionResult]::new('-H', '-H ', [CompletionResultType]::ParameterName, 'An HTTP header for an http or sse server, "Name: value" (repeatable)')
            [CompletionResult]::new('--header', '--header', [CompletionResultType]::ParameterName, 'An HTTP header for an http or sse server, "Name: value" (repeatable)')
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'Where to keep it: local (~/.claude.json, this project only, for you), project (.mcp.json, shared through the repository) or user (~/.claude.json, every project)')
            [CompletionResult]::new('--scope', '--scope', [CompletionResultType]::ParameterName, 'Where to keep it: local (~/.claude.json, this project only, for you), project (.mcp.json, shared through the repository) or user (~/.claude.json, every project)')
            [CompletionResult]::new('--project', '--project', [CompletionResultType]::ParameterName, 'The project folder (default: the current folder)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read settings from this file instead of ~/.config/aisys/config.toml')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'aisys;entities;mcp;edit' {
            [CompletionResult]::new('-t', '-t', [CompletionResultType]::ParameterName, 'How Claude Code talks to it')
            [CompletionResult]::new('--transport', '--transport', [CompletionResultType]::ParameterName, 'How Claude Code talks to it')
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'An environment variable for a stdio server, KEY=value (repeatable)')
            [CompletionResult]::new('--env', '--env', [CompletionResultType]::ParameterName, 'An environment variable for a stdio server, KEY=value (repeatable)')
            [CompletionResult]::new('-H', '-H ', [CompletionResultType]::ParameterName, 'An HTTP header for an http or sse server, "Name: value" (repeatable)')
            [CompletionResult]::new('--header', '--header', [CompletionResultType]::ParameterName, 'An HTTP header for an http or sse server, "Name: value" (repeatable)')
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'The scope that has it (needed when several have it)')
            [CompletionResult]::new('--scope', '--scope', [CompletionResultType]::ParameterName, 'The scope that has it (needed when several have it)')
            [CompletionResult]::new('--project', '--project', [CompletionResultType]::ParameterName, 'The project folder (default: the current folder)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read settings from this file instead of ~/.config/aisys/config.toml')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'aisys;entities;mcp;remove' {
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'The scope to remove it from (needed when several have it)')
            [CompletionResult]::new('--scope', '--scope', [CompletionResultType]::ParameterName, 'The scope to remove it from (needed when several have it)')
            [CompletionResult]::new('--project', '--project', [CompletionResultType]::ParameterName, 'The project folder (default: the current folder)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read settings from this file instead of ~/.config/aisys/config.toml')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'aisys;entities;mcp;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the MCP servers of every scope (local, project, user)')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Add a server: a command to run (stdio) or a URL (http, sse)')
            [CompletionResult]::new('edit', 'edit', [CompletionResultType]::ParameterValue, 'Change an existing server: give it again as `add` would; it keeps its place in the file, and keys of its entry that `add` does not write')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Remove a server')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'aisys;entities;mcp;help;list' {
            break
        }
        'aisys;entities;mcp;help;add' {
            break
        }
        'aisys;entities;mcp;help;edit' {
            break
        }
        'aisys;entities;mcp;help;remove' {
            break
        }
        'aisys;entities;mcp;help;help' {
            break
        }
        'aisys;entities;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List every entity in every scope, what is active, and what hides what')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one entity: its frontmatter, path and body')
            [CompletionResult]::new('install', 'install', [CompletionResultType]::ParameterValue, 'Install a plugin from a known marketplace, and enable it')
            [CompletionResult]::new('uninstall', 'uninstall', [CompletionResultType]::ParameterValue, 'Uninstall a plugin: its record and enabled flag go; its copy stays in the cache')
            [CompletionResult]::new('enable', 'enable', [CompletionResultType]::ParameterValue, 'Enable an installed plugin in the settings of a scope')
            [CompletionResult]::new('disable', 'disable', [CompletionResultType]::ParameterValue, 'Disable a plugin in the settings of a scope, keeping it installed')
            [CompletionResult]::new('validate', 'validate', [CompletionResultType]::ParameterValue, 'Check a plugin, skill, command or agent the way its author needs')
            [CompletionResult]::new('marketplace', 'marketplace', [CompletionResultType]::ParameterValue, 'Add, list, update and remove plugin marketplaces')
            [CompletionResult]::new('profile', 'profile', [CompletionResultType]::ParameterValue, 'The agent profiles: what a sandboxed agent gets of skills, plugins, subagents, commands, hooks, MCP servers and rules (`user`, `none`, and the config file''s `[profiles.NAME]`)')
            [CompletionResult]::new('mcp', 'mcp', [CompletionResultType]::ParameterValue, 'Add, list, change and remove MCP servers, in the same files as `claude mcp`')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'aisys;entities;help;list' {
            break
        }
        'aisys;entities;help;show' {
            break
        }
        'aisys;entities;help;install' {
            break
        }
        'aisys;entities;help;uninstall' {
            break
        }
        'aisys;entities;help;enable' {
            break
        }
        'aisys;entities;help;disable' {
            break
        }
        'aisys;entities;help;validate' {
            break
        }
        'aisys;entities;help;marketplace' {
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Add a marketplace from a git URL, a GitHub owner/repo, a hosted marketplace.json URL, or a local folder')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the known marketplaces')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Fetch the newest version of one marketplace, or of all')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Remove a marketplace and the plugins installed from it')
            break
        }
        'aisys;entities;help;marketplace;add' {
            break
        }
        'aisys;entities;help;marketplace;list' {
            break
        }
        'aisys;entities;help;marketplace;update' {
            break
        }
        'aisys;entities;help;marketplace;remove' {
            break
        }
        'aisys;entities;help;profile' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the profiles and what each holds')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show what one profile resolves to: each entity, where it comes from, what hides what')
            break
        }
        'aisys;entities;help;profile;list' {
            break
        }
        'aisys;entities;help;profile;show' {
            break
        }
        'aisys;entities;help;mcp' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the MCP servers of every scope (local, project, user)')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Add a server: a command to run (stdio) or a URL (http, sse)')
            [CompletionResult]::new('edit', 'edit', [CompletionResultType]::ParameterValue, 'Change an existing server: give it again as `add` would; it keeps its place in the file, and keys of its entry that `add` does not write')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Remove a server')
            break
        }
        'aisys;entities;help;mcp;list' {
            break
        }
        'aisys;entities;help;mcp;add' {
            break
        }
        'aisys;entities;help;mcp;edit' {
            break
        }
        'aisys;entities;help;mcp;remove' {
            break
        }
        'aisys;entities;help;help' {
            break
        }
        'aisys;agents' {
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read settings from this file instead of ~/.config/aisys/config.toml')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'Show each agent, the binary aisys would run and its version, or why it is missing')
            [CompletionResult]::new('install', 'install', [CompletionResultType]::ParameterValue, 'Install an agent CLI from the npm registry into aisys''s data folder (no npm needed)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'aisys;agents;list' {
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read settings from this file instead of ~/.config/aisys/config.toml')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'aisys;agents;install' {
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'The version (or dist-tag) to install (default: the version aisys is tested with)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read settings from this file instead of ~/.config/aisys/config.toml')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'aisys;agents;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'Show each agent, the binary aisys would run and its version, or why it is missing')
            [CompletionResult]::new('install', 'install', [CompletionResultType]::ParameterValue, 'Install an agent CLI from the npm registry into aisys''s data folder (no npm needed)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'aisys;agents;help;list' {
            break
        }
        'aisys;agents;help;install' {
            break
        }
        'aisys;agents;help;help' {
            break
        }
        'aisys;sandboxes' {
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read settings from this file instead of ~/.config/aisys/config.toml')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'Which sandboxes: those of the Modal app, optionally of one session')
            [CompletionResult]::new('prune', 'prune', [CompletionResultType]::ParameterValue, 'Which sandboxes: those of the Modal app, optionally of one session')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'aisys;sandboxes;list' {
            [CompletionResult]::new('--modal-app', '--modal-app', [CompletionResultType]::ParameterName, 'The Modal app the sandboxes belong to')
            [CompletionResult]::new('--session', '--session', [CompletionResultType]::ParameterName, 'Only the sandbox of this session')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read settings from this file instead of ~/.config/aisys/config.toml')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'aisys;sandboxes;prune' {
            [CompletionResult]::new('--modal-app', '--modal-app', [CompletionResultType]::ParameterName, 'The Modal app the sandboxes belong to')
            [CompletionResult]::new('--session', '--session', [CompletionResultType]::ParameterName, 'Only the sandbox of this session')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read settings from this file instead of ~/.config/aisys/config.toml')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'aisys;sandboxes;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'Which sandboxes: those of the Modal app, optionally of one session')
            [CompletionResult]::new('prune', 'prune', [CompletionResultType]::ParameterValue, 'Which sandboxes: those of the Modal app, optionally of one session')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'aisys;sandboxes;help;list' {
            break
        }
        'aisys;sandboxes;help;prune' {
            break
        }
        'aisys;sandboxes;help;help' {
            break
        }
        'aisys;doctor' {
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read settings from this file instead of ~/.config/aisys/config.toml')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'aisys;completions' {
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read settings from this file instead of ~/.config/aisys/config.toml')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'aisys;generate' {
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read settings from this file instead of ~/.config/aisys/config.toml')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('docs', 'docs', [CompletionResultType]::ParameterValue, 'Write completions/, man/ and commands/ from the command-line definitions, and the README''s exit-status and environment tables')
            [CompletionResult]::new('schema', 'schema', [CompletionResultType]::ParameterValue, 'Write docs/schema/ (JSON Schemas and examples) and docs/protocol.md from the shared types')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'aisys;generate;docs' {
            [CompletionResult]::new('--out', '--out', [CompletionResultType]::ParameterName, 'The project folder to write into')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read settings from this file instead of ~/.config/aisys/config.toml')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'aisys;generate;schema' {
            [CompletionResult]::new('--out', '--out', [CompletionResultType]::ParameterName, 'The project folder to write into')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read settings from this file instead of ~/.config/aisys/config.toml')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'aisys;generate;help' {
            [CompletionResult]::new('docs', 'docs', [CompletionResultType]::ParameterValue, 'Write completions/, man/ and commands/ from the command-line definitions, and the README''s exit-status and environment tables')
            [CompletionResult]::new('schema', 'schema', [CompletionResultType]::ParameterValue, 'Write docs/schema/ (JSON Schemas and examples) and docs/protocol.md from the shared types')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'aisys;generate;help;docs' {
            break
        }
        'aisys;generate;help;schema' {
            break
        }
        'aisys;generate;help;help' {
            break
        }
        'aisys;sandbox-init' {
            [CompletionResult]::new('--relay', '--relay', [CompletionResultType]::ParameterName, 'Listen on ADDR inside the sandbox and relay each connection to the Unix socket SOCKET')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read settings from this file instead of ~/.config/aisys/config.toml')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log more on stderr: -v for info, -vv for debug, -vvv for trace')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors and the command''s own output')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'aisys;help' {
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Start the agent server that `aisys chat` and other WebSocket clients talk to')
            [CompletionResult]::new('chat', 'chat', [CompletionResultType]::ParameterValue, 'Chat with coding agents in a terminal UI')
            [CompletionResult]::new('run', 'run', [CompletionResultType]::ParameterValue, 'Run one query with a coding agent in a sandbox, and stream what it does')
            [CompletionResult]::new('docs', 'docs', [CompletionResultType]::ParameterValue, 'Browse a project''s docs, and what Claude Code loads there, in the browser')
            [CompletionResult]::new('transcript', 'transcript', [CompletionResultType]::ParameterValue, 'Read agent transcripts and streams: convert them, count their cost, list sessions')
            [CompletionResult]::new('entities', 'entities', [CompletionResultType]::ParameterValue, 'Find, inspect and install Claude Code plugins, skills, commands, agents and marketplaces')
            [CompletionResult]::new('agents', 'agents', [CompletionResultType]::ParameterValue, 'Show and install the coding agents aisys can run')
            [CompletionResult]::new('sandboxes', 'sandboxes', [CompletionResultType]::ParameterValue, 'Show or remove aisys''s sandboxes on Modal')
            [CompletionResult]::new('doctor', 'doctor', [CompletionResultType]::ParameterValue, 'Check that this machine can run agents, and say how to fix what it lacks')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a completion script for your shell')
            [CompletionResult]::new('generate', 'generate', [CompletionResultType]::ParameterValue, 'Write the generated reference files')
            [CompletionResult]::new('sandbox-init', 'sandbox-init', [CompletionResultType]::ParameterValue, 'Run a program inside a local sandbox behind its network relay (started by aisys itself)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'aisys;help;serve' {
            break
        }
        'aisys;help;chat' {
            break
        }
        'aisys;help;run' {
            break
        }
        'aisys;help;docs' {
            break
        }
        'aisys;help;transcript' {
            [CompletionResult]::new('parse', 'parse', [CompletionResultType]::ParameterValue, 'Turn transcripts and agent output streams into readable conversations')
            [CompletionResult]::new('stats', 'stats', [CompletionResultType]::ParameterValue, 'Count tokens and cost in transcripts')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the Claude Code sessions on this machine, newest first')
            break
        }
        'aisys;help;transcript;parse' {
            break
        }
        'aisys;help;transcript;stats' {
            break
        }
        'aisys;help;transcript;list' {
            break
        }
        'aisys;help;entities' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List every entity in every scope, what is active, and what hides what')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one entity: its frontmatter, path and body')
            [CompletionResult]::new('install', 'install', [CompletionResultType]::ParameterValue, 'Install a plugin from a known marketplace, and enable it')
            [CompletionResult]::new('uninstall', 'uninstall', [CompletionResultType]::ParameterValue, 'Uninstall a plugin: its record and enabled flag go; its copy stays in the cache')
            [CompletionResult]::new('enable', 'enable', [CompletionResultType]::ParameterValue, 'Enable an installed plugin in the settings of a scope')
            [CompletionResult]::new('disable', 'disable', [CompletionResultType]::ParameterValue, 'Disable a plugin in the settings of a scope, keeping it installed')
            [CompletionResult]::new('validate', 'validate', [CompletionResultType]::ParameterValue, 'Check a plugin, skill, command or agent the way its author needs')
            [CompletionResult]::new('marketplace', 'marketplace', [CompletionResultType]::ParameterValue, 'Add, list, update and remove plugin marketplaces')
            [CompletionResult]::new('profile', 'profile', [CompletionResultType]::ParameterValue, 'The agent profiles: what a sandboxed agent gets of skills, plugins, subagents, commands, hooks, MCP servers and rules (`user`, `none`, and the config file''s `[profiles.NAME]`)')
            [CompletionResult]::new('mcp', 'mcp', [CompletionResultType]::ParameterValue, 'Add, list, change and remove MCP servers, in the same files as `claude mcp`')
            break
        }
        'aisys;help;entities;list' {
            break
        }
        'aisys;help;entities;show' {
            break
        }
        'aisys;help;entities;install' {
            break
        }
        'aisys;help;entities;uninstall' {
            break
        }
        'aisys;help;entities;enable' {
            break
        }
        'aisys;help;entities;disable' {
            break
        }
        'aisys;help;entities;validate' {
            break
        }
        'aisys;help;entities;marketplace' {
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Add a marketplace from a git URL, a GitHub owner/repo, a hosted marketplace.json URL, or a local folder')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the known marketplaces')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Fetch the newest version of one marketplace, or of all')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Remove a marketplace and the plugins installed from it')
            break
        }
        'aisys;help;entities;marketplace;add' {
            break
        }
        'aisys;help;entities;marketplace;list' {
            break
        }
        'aisys;help;entities;marketplace;update' {
            break
        }
        'aisys;help;entities;marketplace;remove' {
            break
        }
        'aisys;help;entities;profile' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the profiles and what each holds')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show what one profile resolves to: each entity, where it comes from, what hides what')
            break
        }
        'aisys;help;entities;profile;list' {
            break
        }
        'aisys;help;entities;profile;show' {
            break
        }
        'aisys;help;entities;mcp' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the MCP servers of every scope (local, project, user)')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Add a server: a command to run (stdio) or a URL (http, sse)')
            [CompletionResult]::new('edit', 'edit', [CompletionResultType]::ParameterValue, 'Change an existing server: give it again as `add` would; it keeps its place in the file, and keys of its entry that `add` does not write')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Remove a server')
            break
        }
        'aisys;help;entities;mcp;list' {
            break
        }
        'aisys;help;entities;mcp;add' {
            break
        }
        'aisys;help;entities;mcp;edit' {
            break
        }
        'aisys;help;entities;mcp;remove' {
            break
        }
        'aisys;help;agents' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'Show each agent, the binary aisys would run and its version, or why it is missing')
            [CompletionResult]::new('install', 'install', [CompletionResultType]::ParameterValue, 'Install an agent CLI from the npm registry into aisys''s data folder (no npm needed)')
            break
        }
        'aisys;help;agents;list' {
            break
        }
        'aisys;help;agents;install' {
            break
        }
        'aisys;help;sandboxes' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'Which sandboxes: those of the Modal app, optionally of one session')
            [CompletionResult]::new('prune', 'prune', [CompletionResultType]::ParameterValue, 'Which sandboxes: those of the Modal app, optionally of one session')
            break
        }
        'aisys;help;sandboxes;list' {
            break
        }
        'aisys;help;sandboxes;prune' {
            break
        }
        'aisys;help;doctor' {
            break
        }
        'aisys;help;completions' {
            break
        }
        'aisys;help;generate' {
            [CompletionResult]::new('docs', 'docs', [CompletionResultType]::ParameterValue, 'Write completions/, man/ and commands/ from the command-line definitions, and the README''s exit-status and environment tables')
            [CompletionResult]::new('schema', 'schema', [CompletionResultType]::ParameterValue, 'Write docs/schema/ (JSON Schemas and examples) and docs/protocol.md from the shared types')
            break
        }
        'aisys;help;generate;docs' {
            break
        }
        'aisys;help;generate;schema' {
            break
        }
        'aisys;help;sandbox-init' {
            break
        }
        'aisys;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
