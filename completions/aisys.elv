
use builtin;
use str;

set edit:completion:arg-completer[aisys] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'aisys'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'aisys'= {
            cand --color 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never'
            cand --config 'Read settings from this file instead of ~/.config/aisys/config.toml'
            cand -v 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand --verbose 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand -q 'Print only errors and the command''s own output'
            cand --quiet 'Print only errors and the command''s own output'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand serve 'Start the agent server that `aisys chat` and other WebSocket clients talk to'
            cand chat 'Chat with coding agents in a terminal UI'
            cand run 'Run one query with a coding agent in a sandbox, and stream what it does'
            cand docs 'Browse a project''s docs, and what Claude Code loads there, in the browser'
            cand transcript 'Read agent transcripts and streams: convert them, count their cost, list sessions'
            cand entities 'Find, inspect and install Claude Code plugins, skills, commands, agents and marketplaces'
            cand agents 'Show and install the coding agents aisys can run'
            cand sandboxes 'Show or remove aisys''s sandboxes on Modal'
            cand doctor 'Check that this machine can run agents, and say how to fix what it lacks'
            cand completions 'Print a completion script for your shell'
            cand generate 'Write the generated reference files'
            cand sandbox-init 'Run a program inside a local sandbox behind its network relay (started by aisys itself)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'aisys;serve'= {
            cand --bind 'Address and port to listen on. A non-loopback address makes the token the only protection'
            cand --data-dir 'Folder for the session store, workspaces and the token (default: aisys''s data folder)'
            cand --sandbox 'Sandbox backend for new sessions'
            cand --agent 'Agent for new sessions that do not name one'
            cand --max-sessions 'Most sessions the server keeps at once; `session.create` beyond it gets error `limit`'
            cand --idle-timeout 'Release a session''s sandbox after this long without a turn, e.g. `10m` (the session stays)'
            cand --token-file 'Read the token from this file instead of `<data-dir>/token` (or set AISYS_TOKEN)'
            cand --allow-origin 'Also accept WebSocket upgrades whose Origin is this one (repeatable)'
            cand --allow-host 'Also answer requests that name the server by this host name (repeatable; loopback names and IP addresses are always answered). Guards against DNS rebinding'
            cand --workspace-root 'Let clients name workspaces under this folder (repeatable; none by default)'
            cand --max-pids 'Most processes and threads in the sandbox at once, or `unlimited` [default: 1024]'
            cand --max-memory 'Most memory of the sandbox''s processes together, e.g. 512M or 8G, or `unlimited` [default: 4G]'
            cand --max-cpu-time 'Most CPU time of each process in the sandbox, e.g. 30m, or `unlimited` [default: unlimited]'
            cand --network 'Local sandboxes'' network: limited (default: only the model endpoint and the allowed hosts) or host (the host''s network, unrestricted)'
            cand --allow-net 'Let local sandboxes reach this HOST:PORT too (repeatable), e.g. `github.com:443`'
            cand --store 'Where sessions and events are kept: `sqlite` (default: a file in the data folder) or a PostgreSQL database, `postgres://USER:PASSWORD@HOST:PORT/DATABASE`. The environment variable keeps a password off the command line'
            cand --sweep-interval 'How often unwatched idle sessions are unloaded from memory (tests shorten it)'
            cand --color 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never'
            cand --config 'Read settings from this file instead of ~/.config/aisys/config.toml'
            cand --no-agent-install 'Do not install the default agent''s pinned CLI when it is missing (turns then fail until `aisys agents install` has run)'
            cand -v 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand --verbose 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand -q 'Print only errors and the command''s own output'
            cand --quiet 'Print only errors and the command''s own output'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'aisys;chat'= {
            cand --server 'WebSocket URL of the server (default: the configured one, ws://127.0.0.1:7777/ws)'
            cand --token 'Token for the server (default: read from the server''s data folder, or AISYS_TOKEN)'
            cand --session 'Open this session'
            cand --agent 'Agent for new sessions'
            cand --sandbox 'Sandbox backend for new sessions'
            cand --profile 'The agent profile new sessions get: `user`, `none`, or a `[profiles.NAME]` of the server''s config file (default: the server''s default)'
            cand --color 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never'
            cand --config 'Read settings from this file instead of ~/.config/aisys/config.toml'
            cand --new 'Start with a new session'
            cand -v 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand --verbose 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand -q 'Print only errors and the command''s own output'
            cand --quiet 'Print only errors and the command''s own output'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'aisys;run'= {
            cand --agent 'Which agent to run'
            cand --sandbox 'Where to run it: local (bubblewrap), host (no isolation) or modal'
            cand --workspace 'The folder the agent works in (default: a new folder under aisys''s data folder)'
            cand --model 'The model to ask, e.g. claude-sonnet-4-5'
            cand --permission-mode 'Which tool requests need a decision (Claude Code''s permission modes)'
            cand --allow-tool 'Allow this tool without asking (repeatable), e.g. `Bash(git *)`'
            cand --deny-tool 'Deny this tool (repeatable)'
            cand --max-turns 'Stop after this many agent turns'
            cand --timeout 'Give up after this long, e.g. `90s` or `10m` (exit 124)'
            cand --network 'The local sandbox''s network: limited (default: only the model endpoint and the allowed hosts) or host (the host''s network, unrestricted)'
            cand --allow-net 'Let the local sandbox reach this HOST:PORT too (repeatable), e.g. `github.com:443`'
            cand --env 'Pass this environment variable into the sandbox too (repeatable)'
            cand --resume 'Continue the agent''s earlier conversation with this id'
            cand --profile 'What the agent gets of skills, plugins, subagents, commands and MCP servers: `user` (what your own Claude Code loads; the default), `none`, or a `[profiles.NAME]` of the config'
            cand --agent-bin 'Use this agent binary instead of the installed one'
            cand --modal-app 'The Modal app sandboxes run in (with --sandbox modal; created if missing)'
            cand --modal-image 'A registry image for Modal sandboxes instead of the default one with the agents'
            cand --max-pids 'Most processes and threads in the sandbox at once, or `unlimited` [default: 1024]'
            cand --max-memory 'Most memory of the sandbox''s processes together, e.g. 512M or 8G, or `unlimited` [default: 4G]'
            cand --max-cpu-time 'Most CPU time of each process in the sandbox, e.g. 30m, or `unlimited` [default: unlimited]'
            cand --format 'Output: pretty (default on a terminal), jsonl (StreamEvents, default otherwise), json, markdown'
            cand --color 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never'
            cand --config 'Read settings from this file instead of ~/.config/aisys/config.toml'
            cand --ask 'Ask on the terminal for each tool request'
            cand --sync-back 'With --sandbox modal: copy the files the agent changed back into --workspace afterwards'
            cand -v 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand --verbose 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand -q 'Print only errors and the command''s own output'
            cand --quiet 'Print only errors and the command''s own output'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'aisys;docs'= {
            cand --port 'Port to listen on (0: any free port)'
            cand --bind 'Address to listen on. A non-loopback address makes the token the only protection'
            cand --project 'The project whose .claude/ the Context tab shows (default: the current folder''s project)'
            cand --color 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never'
            cand --config 'Read settings from this file instead of ~/.config/aisys/config.toml'
            cand --open 'Open the viewer in the browser (the default on a terminal)'
            cand --no-open 'Do not open a browser'
            cand -v 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand --verbose 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand -q 'Print only errors and the command''s own output'
            cand --quiet 'Print only errors and the command''s own output'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'aisys;transcript'= {
            cand --color 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never'
            cand --config 'Read settings from this file instead of ~/.config/aisys/config.toml'
            cand -v 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand --verbose 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand -q 'Print only errors and the command''s own output'
            cand --quiet 'Print only errors and the command''s own output'
            cand -h 'Print help'
            cand --help 'Print help'
            cand parse 'Turn transcripts and agent output streams into readable conversations'
            cand stats 'Count tokens and cost in transcripts'
            cand list 'List the Claude Code sessions on this machine, newest first'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'aisys;transcript;parse'= {
            cand --from 'Input format; auto detects it per file from the first lines'
            cand --format 'Output format (default: from the -o file''s extension, else text on a terminal, jsonl otherwise)'
            cand -o 'Write to this file instead of stdout; its extension (.md, .html, .json, .jsonl, .txt) picks the format when --format is not given. The file is written whole at the end: an error, or a bad line with --strict, leaves it as it was; without --strict bad lines are reported, the rest is written and the exit status is 3. A folder (existing, or a name ending in `/`) gets one HTML page per session and an index.html that lists them, with a search'
            cand --output 'Write to this file instead of stdout; its extension (.md, .html, .json, .jsonl, .txt) picks the format when --format is not given. The file is written whole at the end: an error, or a bad line with --strict, leaves it as it was; without --strict bad lines are reported, the rest is written and the exit status is 3. A folder (existing, or a name ending in `/`) gets one HTML page per session and an index.html that lists them, with a search'
            cand --session 'Only the session with this id, or the one id that starts with it (as `transcript list` shows it). Without INPUT, the session is looked up in Claude Code''s projects folder'
            cand --since 'Only what happened at or after this time: RFC 3339, or a date (YYYY-MM-DD) meaning its midnight in the --tz zone'
            cand --until 'Only what happened before this time: RFC 3339, or a date (YYYY-MM-DD) meaning its midnight in the --tz zone'
            cand --max-output-lines 'Cut tool results longer than this many lines (their start and end are kept)'
            cand --tz 'Time zone of the times shown (and dates given to --since/--until are read in): an IANA name (Europe/Paris), UTC, or local'
            cand --color 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never'
            cand --config 'Read settings from this file instead of ~/.config/aisys/config.toml'
            cand --events 'Print StreamEvents instead of conversation blocks, as JSON lines (--format jsonl; other formats are refused)'
            cand --follow 'Keep reading as the transcript grows, printing blocks as lines arrive'
            cand --no-sidechains 'Leave out subagent conversations'
            cand --no-thinking 'Leave out thinking blocks'
            cand --strict 'Stop at the first bad line instead of reporting it and going on'
            cand -v 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand --verbose 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand -q 'Print only errors and the command''s own output'
            cand --quiet 'Print only errors and the command''s own output'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'aisys;transcript;stats'= {
            cand --by 'How to group the counts'
            cand --format 'Output format'
            cand --tz 'Time zone days, weeks and months are cut in (and dates given to --since/--until are read in): an IANA name (Europe/Paris), UTC, or local. The table''s header names it'
            cand --pricing 'A TOML or JSON file of per-model prices (USD per million tokens) that replaces the built-in ones'
            cand --since 'Only usage at or after this time: RFC 3339, or a date (YYYY-MM-DD) meaning its midnight in the --tz zone'
            cand --until 'Only usage before this time: RFC 3339, or a date (YYYY-MM-DD) meaning its midnight in the --tz zone'
            cand --color 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never'
            cand --config 'Read settings from this file instead of ~/.config/aisys/config.toml'
            cand --strict 'Stop at the first bad line instead of reporting it and going on'
            cand -v 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand --verbose 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand -q 'Print only errors and the command''s own output'
            cand --quiet 'Print only errors and the command''s own output'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'aisys;transcript;list'= {
            cand --format 'Output format'
            cand --color 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never'
            cand --config 'Read settings from this file instead of ~/.config/aisys/config.toml'
            cand -v 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand --verbose 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand -q 'Print only errors and the command''s own output'
            cand --quiet 'Print only errors and the command''s own output'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'aisys;transcript;help'= {
            cand parse 'Turn transcripts and agent output streams into readable conversations'
            cand stats 'Count tokens and cost in transcripts'
            cand list 'List the Claude Code sessions on this machine, newest first'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'aisys;transcript;help;parse'= {
        }
        &'aisys;transcript;help;stats'= {
        }
        &'aisys;transcript;help;list'= {
        }
        &'aisys;transcript;help;help'= {
        }
        &'aisys;entities'= {
            cand --color 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never'
            cand --config 'Read settings from this file instead of ~/.config/aisys/config.toml'
            cand -v 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand --verbose 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand -q 'Print only errors and the command''s own output'
            cand --quiet 'Print only errors and the command''s own output'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand list 'List every entity in every scope, what is active, and what hides what'
            cand show 'Show one entity: its frontmatter, path and body'
            cand install 'Install a plugin from a known marketplace, and enable it'
            cand uninstall 'Uninstall a plugin: its record and enabled flag go; its copy stays in the cache'
            cand enable 'Enable an installed plugin in the settings of a scope'
            cand disable 'Disable a plugin in the settings of a scope, keeping it installed'
            cand validate 'Check a plugin, skill, command or agent the way its author needs'
            cand marketplace 'Add, list, update and remove plugin marketplaces'
            cand profile 'The agent profiles: what a sandboxed agent gets of skills, plugins, subagents, commands, hooks, MCP servers and rules (`user`, `none`, and the config file''s `[profiles.NAME]`)'
            cand mcp 'Add, list, change and remove MCP servers, in the same files as `claude mcp`'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'aisys;entities;list'= {
            cand --kind 'Only this kind'
            cand --scope 'Only this scope'
            cand --project 'The project whose .claude/ is the project scope (default: the current folder and its git root)'
            cand --format 'Output format'
            cand --color 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never'
            cand --config 'Read settings from this file instead of ~/.config/aisys/config.toml'
            cand --strict 'Treat warnings (bad frontmatter, unreadable files) as a failure (exit 3)'
            cand -v 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand --verbose 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand -q 'Print only errors and the command''s own output'
            cand --quiet 'Print only errors and the command''s own output'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'aisys;entities;show'= {
            cand --project 'The project whose .claude/ is the project scope'
            cand --color 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never'
            cand --config 'Read settings from this file instead of ~/.config/aisys/config.toml'
            cand -v 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand --verbose 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand -q 'Print only errors and the command''s own output'
            cand --quiet 'Print only errors and the command''s own output'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'aisys;entities;install'= {
            cand --scope 'Which settings: user (~/.claude/settings.json), project (.claude/settings.json) or local (.claude/settings.local.json, not shared)'
            cand --project 'The project for --scope project or local (default: the current folder)'
            cand --color 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never'
            cand --config 'Read settings from this file instead of ~/.config/aisys/config.toml'
            cand -v 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand --verbose 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand -q 'Print only errors and the command''s own output'
            cand --quiet 'Print only errors and the command''s own output'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'aisys;entities;uninstall'= {
            cand --scope 'Which settings: user (~/.claude/settings.json), project (.claude/settings.json) or local (.claude/settings.local.json, not shared)'
            cand --project 'The project for --scope project or local (default: the current folder)'
            cand --color 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never'
            cand --config 'Read settings from this file instead of ~/.config/aisys/config.toml'
            cand -v 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand --verbose 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand -q 'Print only errors and the command''s own output'
            cand --quiet 'Print only errors and the command''s own output'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'aisys;entities;enable'= {
            cand --scope 'Which settings: user (~/.claude/settings.json), project (.claude/settings.json) or local (.claude/settings.local.json, not shared)'
            cand --project 'The project for --scope project or local (default: the current folder)'
            cand --color 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never'
            cand --config 'Read settings from this file instead of ~/.config/aisys/config.toml'
            cand -v 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand --verbose 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand -q 'Print only errors and the command''s own output'
            cand --quiet 'Print only errors and the command''s own output'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'aisys;entities;disable'= {
            cand --scope 'Which settings: user (~/.claude/settings.json), project (.claude/settings.json) or local (.claude/settings.local.json, not shared)'
            cand --project 'The project for --scope project or local (default: the current folder)'
            cand --color 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never'
            cand --config 'Read settings from this file instead of ~/.config/aisys/config.toml'
            cand -v 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand --verbose 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand -q 'Print only errors and the command''s own output'
            cand --quiet 'Print only errors and the command''s own output'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'aisys;entities;validate'= {
            cand --format 'Output format: one finding a line, or JSON'
            cand --color 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never'
            cand --config 'Read settings from this file instead of ~/.config/aisys/config.toml'
            cand -v 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand --verbose 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand -q 'Print only errors and the command''s own output'
            cand --quiet 'Print only errors and the command''s own output'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'aisys;entities;marketplace'= {
            cand --color 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never'
            cand --config 'Read settings from this file instead of ~/.config/aisys/config.toml'
            cand -v 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand --verbose 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand -q 'Print only errors and the command''s own output'
            cand --quiet 'Print only errors and the command''s own output'
            cand -h 'Print help'
            cand --help 'Print help'
            cand add 'Add a marketplace from a git URL, a GitHub owner/repo, a hosted marketplace.json URL, or a local folder'
            cand list 'List the known marketplaces'
            cand update 'Fetch the newest version of one marketplace, or of all'
            cand remove 'Remove a marketplace and the plugins installed from it'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'aisys;entities;marketplace;add'= {
            cand --scope 'Where to declare it: user (~/.claude/settings.json), project (.claude/settings.json, shared with the project) or local (.claude/settings.local.json)'
            cand --project 'The project for --scope project or local (default: the current folder)'
            cand --color 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never'
            cand --config 'Read settings from this file instead of ~/.config/aisys/config.toml'
            cand -v 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand --verbose 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand -q 'Print only errors and the command''s own output'
            cand --quiet 'Print only errors and the command''s own output'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'aisys;entities;marketplace;list'= {
            cand --format 'Output format'
            cand --color 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never'
            cand --config 'Read settings from this file instead of ~/.config/aisys/config.toml'
            cand -v 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand --verbose 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand -q 'Print only errors and the command''s own output'
            cand --quiet 'Print only errors and the command''s own output'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'aisys;entities;marketplace;update'= {
            cand --color 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never'
            cand --config 'Read settings from this file instead of ~/.config/aisys/config.toml'
            cand -v 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand --verbose 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand -q 'Print only errors and the command''s own output'
            cand --quiet 'Print only errors and the command''s own output'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'aisys;entities;marketplace;remove'= {
            cand --color 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never'
            cand --config 'Read settings from this file instead of ~/.config/aisys/config.toml'
            cand -v 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand --verbose 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand -q 'Print only errors and the command''s own output'
            cand --quiet 'Print only errors and the command''s own output'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'aisys;entities;marketplace;help'= {
            cand add 'Add a marketplace from a git URL, a GitHub owner/repo, a hosted marketplace.json URL, or a local folder'
            cand list 'List the known marketplaces'
            cand update 'Fetch the newest version of one marketplace, or of all'
            cand remove 'Remove a marketplace and the plugins installed from it'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'aisys;entities;marketplace;help;add'= {
        }
        &'aisys;entities;marketplace;help;list'= {
        }
        &'aisys;entities;marketplace;help;update'= {
        }
        &'aisys;entities;marketplace;help;remove'= {
        }
        &'aisys;entities;marketplace;help;help'= {
        }
        &'aisys;entities;profile'= {
            cand --color 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never'
            cand --config 'Read settings from this file instead of ~/.config/aisys/config.toml'
            cand -v 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand --verbose 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand -q 'Print only errors and the command''s own output'
            cand --quiet 'Print only errors and the command''s own output'
            cand -h 'Print help'
            cand --help 'Print help'
            cand list 'List the profiles and what each holds'
            cand show 'Show what one profile resolves to: each entity, where it comes from, what hides what'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'aisys;entities;profile;list'= {
            cand --project 'The project whose .claude/ is the project scope (default: the current folder)'
            cand --format 'Output format'
            cand --color 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never'
            cand --config 'Read settings from this file instead of ~/.config/aisys/config.toml'
            cand -v 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand --verbose 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand -q 'Print only errors and the command''s own output'
            cand --quiet 'Print only errors and the command''s own output'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'aisys;entities;profile;show'= {
            cand --project 'The project whose .claude/ is the project scope (default: the current folder)'
            cand --format 'Output format'
            cand --color 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never'
            cand --config 'Read settings from this file instead of ~/.config/aisys/config.toml'
            cand -v 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand --verbose 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand -q 'Print only errors and the command''s own output'
            cand --quiet 'Print only errors and the command''s own output'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'aisys;entities;profile;help'= {
            cand list 'List the profiles and what each holds'
            cand show 'Show what one profile resolves to: each entity, where it comes from, what hides what'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'aisys;entities;profile;help;list'= {
        }
        &'aisys;entities;profile;help;show'= {
        }
        &'aisys;entities;profile;help;help'= {
        }
        &'aisys;entities;mcp'= {
            cand --color 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never'
            cand --config 'Read settings from this file instead of ~/.config/aisys/config.toml'
            cand -v 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand --verbose 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand -q 'Print only errors and the command''s own output'
            cand --quiet 'Print only errors and the command''s own output'
            cand -h 'Print help'
            cand --help 'Print help'
            cand list 'List the MCP servers of every scope (local, project, user)'
            cand add 'Add a server: a command to run (stdio) or a URL (http, sse)'
            cand edit 'Change an existing server: give it again as `add` would; it keeps its place in the file, and keys of its entry that `add` does not write'
            cand remove 'Remove a server'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'aisys;entities;mcp;list'= {
            cand --project 'The project folder (default: the current folder)'
            cand --format 'Output format'
            cand --color 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never'
            cand --config 'Read settings from this file instead of ~/.config/aisys/config.toml'
            cand -v 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand --verbose 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand -q 'Print only errors and the command''s own output'
            cand --quiet 'Print only errors and the command''s own output'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'aisys;entities;mcp;add'= {
            cand -t 'How Claude Code talks to it'
            cand --transport 'How Claude Code talks to it'
            cand -e 'An environment variable for a stdio server, KEY=value (repeatable)'
            cand --env 'An environment variable for a stdio server, KEY=value (repeatable)'
            cand -H 'An HTTP header for an http or sse server, "Name: value" (repeatable)'
            cand --header 'An HTTP header for an http or sse server, "Name: value" (repeatable)'
            cand -s 'Where to keep it: local (~/.claude.json, this project only, for you), project (.mcp.json, shared through the repository) or user (~/.claude.json, every project)'
            cand --scope 'Where to keep it: local (~/.claude.json, this project only, for you), project (.mcp.json, shared through the repository) or user (~/.claude.json, every project)'
            cand --project 'The project folder (default: the current folder)'
            cand --color 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never'
            cand --config 'Read settings from this file instead of ~/.config/aisys/config.toml'
            cand -v 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand --verbose 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand -q 'Print only errors and the command''s own output'
            cand --quiet 'Print only errors and the command''s own output'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'aisys;entities;mcp;edit'= {
            cand -t 'How Claude Code talks to it'
            cand --transport 'How Claude Code talks to it'
            cand -e 'An environment variable for a stdio server, KEY=value (repeatable)'
            cand --env 'An environment variable for a stdio server, KEY=value (repeatable)'
            cand -H 'An HTTP header for an http or sse server, "Name: value" (repeatable)'
            cand --header 'An HTTP header for an http or sse server, "Name: value" (repeatable)'
            cand -s 'The scope that has it (needed when several have it)'
            cand --scope 'The scope that has it (needed when several have it)'
            cand --project 'The project folder (default: the current folder)'
            cand --color 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never'
            cand --config 'Read settings from this file instead of ~/.config/aisys/config.toml'
            cand -v 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand --verbose 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand -q 'Print only errors and the command''s own output'
            cand --quiet 'Print only errors and the command''s own output'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'aisys;entities;mcp;remove'= {
            cand -s 'The scope to remove it from (needed when several have it)'
            cand --scope 'The scope to remove it from (needed when several have it)'
            cand --project 'The project folder (default: the current folder)'
            cand --color 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never'
            cand --config 'Read settings from this file instead of ~/.config/aisys/config.toml'
            cand -v 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand --verbose 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand -q 'Print only errors and the command''s own output'
            cand --quiet 'Print only errors and the command''s own output'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'aisys;entities;mcp;help'= {
            cand list 'List the MCP servers of every scope (local, project, user)'
            cand add 'Add a server: a command to run (stdio) or a URL (http, sse)'
            cand edit 'Change an existing server: give it again as `add` would; it keeps its place in the file, and keys of its entry that `add` does not write'
            cand remove 'Remove a server'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'aisys;entities;mcp;help;list'= {
        }
        &'aisys;entities;mcp;help;add'= {
        }
        &'aisys;entities;mcp;help;edit'= {
        }
        &'aisys;entities;mcp;help;remove'= {
        }
        &'aisys;entities;mcp;help;help'= {
        }
        &'aisys;entities;help'= {
            cand list 'List every entity in every scope, what is active, and what hides what'
            cand show 'Show one entity: its frontmatter, path and body'
            cand install 'Install a plugin from a known marketplace, and enable it'
            cand uninstall 'Uninstall a plugin: its record and enabled flag go; its copy stays in the cache'
            cand enable 'Enable an installed plugin in the settings of a scope'
            cand disable 'Disable a plugin in the settings of a scope, keeping it installed'
            cand validate 'Check a plugin, skill, command or agent the way its author needs'
            cand marketplace 'Add, list, update and remove plugin marketplaces'
            cand profile 'The agent profiles: what a sandboxed agent gets of skills, plugins, subagents, commands, hooks, MCP servers and rules (`user`, `none`, and the config file''s `[profiles.NAME]`)'
            cand mcp 'Add, list, change and remove MCP servers, in the same files as `claude mcp`'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'aisys;entities;help;list'= {
        }
        &'aisys;entities;help;show'= {
        }
        &'aisys;entities;help;install'= {
        }
        &'aisys;entities;help;uninstall'= {
        }
        &'aisys;entities;help;enable'= {
        }
        &'aisys;entities;help;disable'= {
        }
        &'aisys;entities;help;validate'= {
        }
        &'aisys;entities;help;marketplace'= {
            cand add 'Add a marketplace from a git URL, a GitHub owner/repo, a hosted marketplace.json URL, or a local folder'
            cand list 'List the known marketplaces'
            cand update 'Fetch the newest version of one marketplace, or of all'
            cand remove 'Remove a marketplace and the plugins installed from it'
        }
        &'aisys;entities;help;marketplace;add'= {
        }
        &'aisys;entities;help;marketplace;list'= {
        }
        &'aisys;entities;help;marketplace;update'= {
        }
        &'aisys;entities;help;marketplace;remove'= {
        }
        &'aisys;entities;help;profile'= {
            cand list 'List the profiles and what each holds'
            cand show 'Show what one profile resolves to: each entity, where it comes from, what hides what'
        }
        &'aisys;entities;help;profile;list'= {
        }
        &'aisys;entities;help;profile;show'= {
        }
        &'aisys;entities;help;mcp'= {
            cand list 'List the MCP servers of every scope (local, project, user)'
            cand add 'Add a server: a command to run (stdio) or a URL (http, sse)'
            cand edit 'Change an existing server: give it again as `add` would; it keeps its place in the file, and keys of its entry that `add` does not write'
            cand remove 'Remove a server'
        }
        &'aisys;entities;help;mcp;list'= {
        }
        &'aisys;entities;help;mcp;add'= {
        }
        &'aisys;entities;help;mcp;edit'= {
        }
        &'aisys;entities;help;mcp;remove'= {
        }
        &'aisys;entities;help;help'= {
        }
        &'aisys;agents'= {
            cand --color 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never'
            cand --config 'Read settings from this file instead of ~/.config/aisys/config.toml'
            cand -v 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand --verbose 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand -q 'Print only errors and the command''s own output'
            cand --quiet 'Print only errors and the command''s own output'
            cand -h 'Print help'
            cand --help 'Print help'
            cand list 'Show each agent, the binary aisys would run and its version, or why it is missing'
            cand install 'Install an agent CLI from the npm registry into aisys''s data folder (no npm needed)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'aisys;agents;list'= {
            cand --format 'Output format'
            cand --color 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never'
            cand --config 'Read settings from this file instead of ~/.config/aisys/config.toml'
            cand -v 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand --verbose 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand -q 'Print only errors and the command''s own output'
            cand --quiet 'Print only errors and the command''s own output'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'aisys;agents;install'= {
            cand --version 'The version (or dist-tag) to install (default: the version aisys is tested with)'
            cand --color 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never'
            cand --config 'Read settings from this file instead of ~/.config/aisys/config.toml'
            cand -v 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand --verbose 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand -q 'Print only errors and the command''s own output'
            cand --quiet 'Print only errors and the command''s own output'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'aisys;agents;help'= {
            cand list 'Show each agent, the binary aisys would run and its version, or why it is missing'
            cand install 'Install an agent CLI from the npm registry into aisys''s data folder (no npm needed)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'aisys;agents;help;list'= {
        }
        &'aisys;agents;help;install'= {
        }
        &'aisys;agents;help;help'= {
        }
        &'aisys;sandboxes'= {
            cand --color 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never'
            cand --config 'Read settings from this file instead of ~/.config/aisys/config.toml'
            cand -v 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand --verbose 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand -q 'Print only errors and the command''s own output'
            cand --quiet 'Print only errors and the command''s own output'
            cand -h 'Print help'
            cand --help 'Print help'
            cand list 'Which sandboxes: those of the Modal app, optionally of one session'
            cand prune 'Which sandboxes: those of the Modal app, optionally of one session'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'aisys;sandboxes;list'= {
            cand --modal-app 'The Modal app the sandboxes belong to'
            cand --session 'Only the sandbox of this session'
            cand --color 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never'
            cand --config 'Read settings from this file instead of ~/.config/aisys/config.toml'
            cand -v 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand --verbose 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand -q 'Print only errors and the command''s own output'
            cand --quiet 'Print only errors and the command''s own output'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'aisys;sandboxes;prune'= {
            cand --modal-app 'The Modal app the sandboxes belong to'
            cand --session 'Only the sandbox of this session'
            cand --color 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never'
            cand --config 'Read settings from this file instead of ~/.config/aisys/config.toml'
            cand -v 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand --verbose 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand -q 'Print only errors and the command''s own output'
            cand --quiet 'Print only errors and the command''s own output'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'aisys;sandboxes;help'= {
            cand list 'Which sandboxes: those of the Modal app, optionally of one session'
            cand prune 'Which sandboxes: those of the Modal app, optionally of one session'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'aisys;sandboxes;help;list'= {
        }
        &'aisys;sandboxes;help;prune'= {
        }
        &'aisys;sandboxes;help;help'= {
        }
        &'aisys;doctor'= {
            cand --format 'Output format'
            cand --color 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never'
            cand --config 'Read settings from this file instead of ~/.config/aisys/config.toml'
            cand -v 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand --verbose 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand -q 'Print only errors and the command''s own output'
            cand --quiet 'Print only errors and the command''s own output'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'aisys;completions'= {
            cand --color 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never'
            cand --config 'Read settings from this file instead of ~/.config/aisys/config.toml'
            cand -v 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand --verbose 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand -q 'Print only errors and the command''s own output'
            cand --quiet 'Print only errors and the command''s own output'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'aisys;generate'= {
            cand --color 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never'
            cand --config 'Read settings from this file instead of ~/.config/aisys/config.toml'
            cand -v 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand --verbose 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand -q 'Print only errors and the command''s own output'
            cand --quiet 'Print only errors and the command''s own output'
            cand -h 'Print help'
            cand --help 'Print help'
            cand docs 'Write completions/, man/ and commands/ from the command-line definitions, and the README''s exit-status and environment tables'
            cand schema 'Write docs/schema/ (JSON Schemas and examples) and docs/protocol.md from the shared types'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'aisys;generate;docs'= {
            cand --out 'The project folder to write into'
            cand --color 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never'
            cand --config 'Read settings from this file instead of ~/.config/aisys/config.toml'
            cand -v 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand --verbose 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand -q 'Print only errors and the command''s own output'
            cand --quiet 'Print only errors and the command''s own output'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'aisys;generate;schema'= {
            cand --out 'The project folder to write into'
            cand --color 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never'
            cand --config 'Read settings from this file instead of ~/.config/aisys/config.toml'
            cand -v 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand --verbose 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand -q 'Print only errors and the command''s own output'
            cand --quiet 'Print only errors and the command''s own output'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'aisys;generate;help'= {
            cand docs 'Write completions/, man/ and commands/ from the command-line definitions, and the README''s exit-status and environment tables'
            cand schema 'Write docs/schema/ (JSON Schemas and examples) and docs/protocol.md from the shared types'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'aisys;generate;help;docs'= {
        }
        &'aisys;generate;help;schema'= {
        }
        &'aisys;generate;help;help'= {
        }
        &'aisys;sandbox-init'= {
            cand --relay 'Listen on ADDR inside the sandbox and relay each connection to the Unix socket SOCKET'
            cand --color 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never'
            cand --config 'Read settings from this file instead of ~/.config/aisys/config.toml'
            cand -v 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand --verbose 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
            cand -q 'Print only errors and the command''s own output'
            cand --quiet 'Print only errors and the command''s own output'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'aisys;help'= {
            cand serve 'Start the agent server that `aisys chat` and other WebSocket clients talk to'
            cand chat 'Chat with coding agents in a terminal UI'
            cand run 'Run one query with a coding agent in a sandbox, and stream what it does'
            cand docs 'Browse a project''s docs, and what Claude Code loads there, in the browser'
            cand transcript 'Read agent transcripts and streams: convert them, count their cost, list sessions'
            cand entities 'Find, inspect and install Claude Code plugins, skills, commands, agents and marketplaces'
            cand agents 'Show and install the coding agents aisys can run'
            cand sandboxes 'Show or remove aisys''s sandboxes on Modal'
            cand doctor 'Check that this machine can run agents, and say how to fix what it lacks'
            cand completions 'Print a completion script for your shell'
            cand generate 'Write the generated reference files'
            cand sandbox-init 'Run a program inside a local sandbox behind its network relay (started by aisys itself)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'aisys;help;serve'= {
        }
        &'aisys;help;chat'= {
        }
        &'aisys;help;run'= {
        }
        &'aisys;help;docs'= {
        }
        &'aisys;help;transcript'= {
            cand parse 'Turn transcripts and agent output streams into readable conversations'
            cand stats 'Count tokens and cost in transcripts'
            cand list 'List the Claude Code sessions on this machine, newest first'
        }
        &'aisys;help;transcript;parse'= {
        }
        &'aisys;help;transcript;stats'= {
        }
        &'aisys;help;transcript;list'= {
        }
        &'aisys;help;entities'= {
            cand list 'List every entity in every scope, what is active, and what hides what'
            cand show 'Show one entity: its frontmatter, path and body'
            cand install 'Install a plugin from a known marketplace, and enable it'
            cand uninstall 'Uninstall a plugin: its record and enabled flag go; its copy stays in the cache'
            cand enable 'Enable an installed plugin in the settings of a scope'
            cand disable 'Disable a plugin in the settings of a scope, keeping it installed'
            cand validate 'Check a plugin, skill, command or agent the way its author needs'
            cand marketplace 'Add, list, update and remove plugin marketplaces'
            cand profile 'The agent profiles: what a sandboxed agent gets of skills, plugins, subagents, commands, hooks, MCP servers and rules (`user`, `none`, and the config file''s `[profiles.NAME]`)'
            cand mcp 'Add, list, change and remove MCP servers, in the same files as `claude mcp`'
        }
        &'aisys;help;entities;list'= {
        }
        &'aisys;help;entities;show'= {
        }
        &'aisys;help;entities;install'= {
        }
        &'aisys;help;entities;uninstall'= {
        }
        &'aisys;help;entities;enable'= {
        }
        &'aisys;help;entities;disable'= {
        }
        &'aisys;help;entities;validate'= {
        }
        &'aisys;help;entities;marketplace'= {
            cand add 'Add a marketplace from a git URL, a GitHub owner/repo, a hosted marketplace.json URL, or a local folder'
            cand list 'List the known marketplaces'
            cand update 'Fetch the newest version of one marketplace, or of all'
            cand remove 'Remove a marketplace and the plugins installed from it'
        }
        &'aisys;help;entities;marketplace;add'= {
        }
        &'aisys;help;entities;marketplace;list'= {
        }
        &'aisys;help;entities;marketplace;update'= {
        }
        &'aisys;help;entities;marketplace;remove'= {
        }
        &'aisys;help;entities;profile'= {
            cand list 'List the profiles and what each holds'
            cand show 'Show what one profile resolves to: each entity, where it comes from, what hides what'
        }
        &'aisys;help;entities;profile;list'= {
        }
        &'aisys;help;entities;profile;show'= {
        }
        &'aisys;help;entities;mcp'= {
            cand list 'List the MCP servers of every scope (local, project, user)'
            cand add 'Add a server: a command to run (stdio) or a URL (http, sse)'
            cand edit 'Change an existing server: give it again as `add` would; it keeps its place in the file, and keys of its entry that `add` does not write'
            cand remove 'Remove a server'
        }
        &'aisys;help;entities;mcp;list'= {
        }
        &'aisys;help;entities;mcp;add'= {
        }
        &'aisys;help;entities;mcp;edit'= {
        }
        &'aisys;help;entities;mcp;remove'= {
        }
        &'aisys;help;agents'= {
            cand list 'Show each agent, the binary aisys would run and its version, or why it is missing'
            cand install 'Install an agent CLI from the npm registry into aisys''s data folder (no npm needed)'
        }
        &'aisys;help;agents;list'= {
        }
        &'aisys;help;agents;install'= {
        }
        &'aisys;help;sandboxes'= {
            cand list 'Which sandboxes: those of the Modal app, optionally of one session'
            cand prune 'Which sandboxes: those of the Modal app, optionally of one session'
        }
        &'aisys;help;sandboxes;list'= {
        }
        &'aisys;help;sandboxes;prune'= {
        }
        &'aisys;help;doctor'= {
        }
        &'aisys;help;completions'= {
        }
        &'aisys;help;generate'= {
            cand docs 'Write completions/, man/ and commands/ from the command-line definitions, and the README''s exit-status and environment tables'
            cand schema 'Write docs/schema/ (JSON Schemas and examples) and docs/protocol.md from the shared types'
        }
        &'aisys;help;generate;docs'= {
        }
        &'aisys;help;generate;schema'= {
        }
        &'aisys;help;sandbox-init'= {
        }
        &'aisys;help;help'= {
        }
    ]
    $completions[$command]
}
