# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_aisys_global_optspecs
    string join \n v/verbose q/quiet color= config= h/help V/version
end

function __fish_aisys_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_aisys_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_aisys_using_subcommand
    set -l cmd (__fish_aisys_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c aisys -n "__fish_aisys_needs_command" -l color -d 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c aisys -n "__fish_aisys_needs_command" -l config -d 'Read settings from this file instead of ~/.config/aisys/config.toml' -r -F
complete -c aisys -n "__fish_aisys_needs_command" -s v -l verbose -d 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
complete -c aisys -n "__fish_aisys_needs_command" -s q -l quiet -d 'Print only errors and the command\'s own output'
complete -c aisys -n "__fish_aisys_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c aisys -n "__fish_aisys_needs_command" -s V -l version -d 'Print version'
complete -c aisys -n "__fish_aisys_needs_command" -f -a "serve" -d 'Start the agent server that `aisys chat` and other WebSocket clients talk to'
complete -c aisys -n "__fish_aisys_needs_command" -f -a "chat" -d 'Chat with coding agents in a terminal UI'
complete -c aisys -n "__fish_aisys_needs_command" -f -a "run" -d 'Run one query with a coding agent in a sandbox, and stream what it does'
complete -c aisys -n "__fish_aisys_needs_command" -f -a "docs" -d 'Browse a project\'s docs, and what Claude Code loads there, in the browser'
complete -c aisys -n "__fish_aisys_needs_command" -f -a "transcript" -d 'Read agent transcripts and streams: convert them, count their cost, list sessions'
complete -c aisys -n "__fish_aisys_needs_command" -f -a "entities" -d 'Find, inspect and install Claude Code plugins, skills, commands, agents and marketplaces'
complete -c aisys -n "__fish_aisys_needs_command" -f -a "agents" -d 'Show and install the coding agents aisys can run'
complete -c aisys -n "__fish_aisys_needs_command" -f -a "sandboxes" -d 'Show or remove aisys\'s sandboxes on Modal'
complete -c aisys -n "__fish_aisys_needs_command" -f -a "doctor" -d 'Check that this machine can run agents, and say how to fix what it lacks'
complete -c aisys -n "__fish_aisys_needs_command" -f -a "completions" -d 'Print a completion script for your shell'
complete -c aisys -n "__fish_aisys_needs_command" -f -a "generate" -d 'Write the generated reference files'
complete -c aisys -n "__fish_aisys_needs_command" -f -a "sandbox-init" -d 'Run a program inside a local sandbox behind its network relay (started by aisys itself)'
complete -c aisys -n "__fish_aisys_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c aisys -n "__fish_aisys_using_subcommand serve" -l bind -d 'Address and port to listen on. A non-loopback address makes the token the only protection' -r
complete -c aisys -n "__fish_aisys_using_subcommand serve" -l data-dir -d 'Folder for the session store, workspaces and the token (default: aisys\'s data folder)' -r -F
complete -c aisys -n "__fish_aisys_using_subcommand serve" -l sandbox -d 'Sandbox backend for new sessions' -r -f -a "local\t'A bubblewrap sandbox on this machine: only the workspace is writable (default)'
host\t'No isolation at all: the agent runs as you, on this machine'
modal\t'A Modal Sandbox in Modal\'s cloud'"
complete -c aisys -n "__fish_aisys_using_subcommand serve" -l agent -d 'Agent for new sessions that do not name one' -r -f -a "claude-code\t'Anthropic\'s Claude Code'
opencode\t'OpenCode'"
complete -c aisys -n "__fish_aisys_using_subcommand serve" -l max-sessions -d 'Most sessions the server keeps at once; `session.create` beyond it gets error `limit`' -r
complete -c aisys -n "__fish_aisys_using_subcommand serve" -l idle-timeout -d 'Release a session\'s sandbox after this long without a turn, e.g. `10m` (the session stays)' -r
complete -c aisys -n "__fish_aisys_using_subcommand serve" -l token-file -d 'Read the token from this file instead of `<data-dir>/token` (or set AISYS_TOKEN)' -r -F
complete -c aisys -n "__fish_aisys_using_subcommand serve" -l allow-origin -d 'Also accept WebSocket upgrades whose Origin is this one (repeatable)' -r
complete -c aisys -n "__fish_aisys_using_subcommand serve" -l allow-host -d 'Also answer requests that name the server by this host name (repeatable; loopback names and IP addresses are always answered). Guards against DNS rebinding' -r
complete -c aisys -n "__fish_aisys_using_subcommand serve" -l workspace-root -d 'Let clients name workspaces under this folder (repeatable; none by default)' -r -F
complete -c aisys -n "__fish_aisys_using_subcommand serve" -l max-pids -d 'Most processes and threads in the sandbox at once, or `unlimited` [default: 1024]' -r
complete -c aisys -n "__fish_aisys_using_subcommand serve" -l max-memory -d 'Most memory of the sandbox\'s processes together, e.g. 512M or 8G, or `unlimited` [default: 4G]' -r
complete -c aisys -n "__fish_aisys_using_subcommand serve" -l max-cpu-time -d 'Most CPU time of each process in the sandbox, e.g. 30m, or `unlimited` [default: unlimited]' -r
complete -c aisys -n "__fish_aisys_using_subcommand serve" -l network -d 'Local sandboxes\' network: limited (default: only the model endpoint and the allowed hosts) or host (the host\'s network, unrestricted)' -r -f -a "limited\t'Only the model endpoint and the allowed hosts (default)'
host\t'The host\'s network, unrestricted: the agent can reach anything this machine can'"
complete -c aisys -n "__fish_aisys_using_subcommand serve" -l allow-net -d 'Let local sandboxes reach this HOST:PORT too (repeatable), e.g. `github.com:443`' -r
complete -c aisys -n "__fish_aisys_using_subcommand serve" -l store -d 'Where sessions and events are kept: `sqlite` (default: a file in the data folder) or a PostgreSQL database, `postgres://USER:PASSWORD@HOST:PORT/DATABASE`. The environment variable keeps a password off the command line' -r
complete -c aisys -n "__fish_aisys_using_subcommand serve" -l sweep-interval -d 'How often unwatched idle sessions are unloaded from memory (tests shorten it)' -r
complete -c aisys -n "__fish_aisys_using_subcommand serve" -l color -d 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c aisys -n "__fish_aisys_using_subcommand serve" -l config -d 'Read settings from this file instead of ~/.config/aisys/config.toml' -r -F
complete -c aisys -n "__fish_aisys_using_subcommand serve" -l no-agent-install -d 'Do not install the default agent\'s pinned CLI when it is missing (turns then fail until `aisys agents install` has run)'
complete -c aisys -n "__fish_aisys_using_subcommand serve" -s v -l verbose -d 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
complete -c aisys -n "__fish_aisys_using_subcommand serve" -s q -l quiet -d 'Print only errors and the command\'s own output'
complete -c aisys -n "__fish_aisys_using_subcommand serve" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c aisys -n "__fish_aisys_using_subcommand chat" -l server -d 'WebSocket URL of the server (default: the configured one, ws://127.0.0.1:7777/ws)' -r
complete -c aisys -n "__fish_aisys_using_subcommand chat" -l token -d 'Token for the server (default: read from the server\'s data folder, or AISYS_TOKEN)' -r
complete -c aisys -n "__fish_aisys_using_subcommand chat" -l session -d 'Open this session' -r
complete -c aisys -n "__fish_aisys_using_subcommand chat" -l agent -d 'Agent for new sessions' -r -f -a "claude-code\t'Anthropic\'s Claude Code'
opencode\t'OpenCode'"
complete -c aisys -n "__fish_aisys_using_subcommand chat" -l sandbox -d 'Sandbox backend for new sessions' -r -f -a "local\t'A bubblewrap sandbox on this machine: only the workspace is writable (default)'
host\t'No isolation at all: the agent runs as you, on this machine'
modal\t'A Modal Sandbox in Modal\'s cloud'"
complete -c aisys -n "__fish_aisys_using_subcommand chat" -l profile -d 'The agent profile new sessions get: `user`, `none`, or a `[profiles.NAME]` of the server\'s config file (default: the server\'s default)' -r
complete -c aisys -n "__fish_aisys_using_subcommand chat" -l color -d 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c aisys -n "__fish_aisys_using_subcommand chat" -l config -d 'Read settings from this file instead of ~/.config/aisys/config.toml' -r -F
complete -c aisys -n "__fish_aisys_using_subcommand chat" -l new -d 'Start with a new session'
complete -c aisys -n "__fish_aisys_using_subcommand chat" -s v -l verbose -d 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
complete -c aisys -n "__fish_aisys_using_subcommand chat" -s q -l quiet -d 'Print only errors and the command\'s own output'
complete -c aisys -n "__fish_aisys_using_subcommand chat" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c aisys -n "__fish_aisys_using_subcommand run" -l agent -d 'Which agent to run' -r -f -a "claude-code\t'Anthropic\'s Claude Code'
opencode\t'OpenCode'"
complete -c aisys -n "__fish_aisys_using_subcommand run" -l sandbox -d 'Where to run it: local (bubblewrap), host (no isolation) or modal' -r -f -a "local\t'A bubblewrap sandbox on this machine: only the workspace is writable (default)'
host\t'No isolation at all: the agent runs as you, on this machine'
modal\t'A Modal Sandbox in Modal\'s cloud'"
complete -c aisys -n "__fish_aisys_using_subcommand run" -l workspace -d 'The folder the agent works in (default: a new folder under aisys\'s data folder)' -r -F
complete -c aisys -n "__fish_aisys_using_subcommand run" -l model -d 'The model to ask, e.g. claude-sonnet-4-5' -r
complete -c aisys -n "__fish_aisys_using_subcommand run" -l permission-mode -d 'Which tool requests need a decision (Claude Code\'s permission modes)' -r -f -a "default\t'Ask for anything no rule allows'
acceptEdits\t'Allow file edits without asking'
plan\t'Plan only: no edits, no commands'
bypassPermissions\t'Allow everything (the sandbox is the boundary)'"
complete -c aisys -n "__fish_aisys_using_subcommand run" -l allow-tool -d 'Allow this tool without asking (repeatable), e.g. `Bash(git *)`' -r
complete -c aisys -n "__fish_aisys_using_subcommand run" -l deny-tool -d 'Deny this tool (repeatable)' -r
complete -c aisys -n "__fish_aisys_using_subcommand run" -l max-turns -d 'Stop after this many agent turns' -r
complete -c aisys -n "__fish_aisys_using_subcommand run" -l timeout -d 'Give up after this long, e.g. `90s` or `10m` (exit 124)' -r
complete -c aisys -n "__fish_aisys_using_subcommand run" -l network -d 'The local sandbox\'s network: limited (default: only the model endpoint and the allowed hosts) or host (the host\'s network, unrestricted)' -r -f -a "limited\t'Only the model endpoint and the allowed hosts (default)'
host\t'The host\'s network, unrestricted: the agent can reach anything this machine can'"
complete -c aisys -n "__fish_aisys_using_subcommand run" -l allow-net -d 'Let the local sandbox reach this HOST:PORT too (repeatable), e.g. `github.com:443`' -r
complete -c aisys -n "__fish_aisys_using_subcommand run" -l env -d 'Pass this environment variable into the sandbox too (repeatable)' -r
complete -c aisys -n "__fish_aisys_using_subcommand run" -l resume -d 'Continue the agent\'s earlier conversation with this id' -r
complete -c aisys -n "__fish_aisys_using_subcommand run" -l profile -d 'What the agent gets of skills, plugins, subagents, commands and MCP servers: `user` (what your own Claude Code loads; the default), `none`, or a `[profiles.NAME]` of the config' -r
complete -c aisys -n "__fish_aisys_using_subcommand run" -l agent-bin -d 'Use this agent binary instead of the installed one' -r -F
complete -c aisys -n "__fish_aisys_using_subcommand run" -l modal-app -d 'The Modal app sandboxes run in (with --sandbox modal; created if missing)' -r
complete -c aisys -n "__fish_aisys_using_subcommand run" -l modal-image -d 'A registry image for Modal sandboxes instead of the default one with the agents' -r
complete -c aisys -n "__fish_aisys_using_subcommand run" -l max-pids -d 'Most processes and threads in the sandbox at once, or `unlimited` [default: 1024]' -r
complete -c aisys -n "__fish_aisys_using_subcommand run" -l max-memory -d 'Most memory of the sandbox\'s processes together, e.g. 512M or 8G, or `unlimited` [default: 4G]' -r
complete -c aisys -n "__fish_aisys_using_subcommand run" -l max-cpu-time -d 'Most CPU time of each process in the sandbox, e.g. 30m, or `unlimited` [default: unlimited]' -r
complete -c aisys -n "__fish_aisys_using_subcommand run" -l format -d 'Output: pretty (default on a terminal), jsonl (StreamEvents, default otherwise), json, markdown' -r -f -a "pretty\t'Streamed text, one line per tool call, and a summary line'
jsonl\t'One StreamEvent per line'
json\t'The conversation\'s blocks as one JSON document at the end'
markdown\t'The conversation as Markdown at the end'"
complete -c aisys -n "__fish_aisys_using_subcommand run" -l color -d 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c aisys -n "__fish_aisys_using_subcommand run" -l config -d 'Read settings from this file instead of ~/.config/aisys/config.toml' -r -F
complete -c aisys -n "__fish_aisys_using_subcommand run" -l ask -d 'Ask on the terminal for each tool request'
complete -c aisys -n "__fish_aisys_using_subcommand run" -l sync-back -d 'With --sandbox modal: copy the files the agent changed back into --workspace afterwards'
complete -c aisys -n "__fish_aisys_using_subcommand run" -s v -l verbose -d 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
complete -c aisys -n "__fish_aisys_using_subcommand run" -s q -l quiet -d 'Print only errors and the command\'s own output'
complete -c aisys -n "__fish_aisys_using_subcommand run" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c aisys -n "__fish_aisys_using_subcommand docs" -l port -d 'Port to listen on (0: any free port)' -r
complete -c aisys -n "__fish_aisys_using_subcommand docs" -l bind -d 'Address to listen on. A non-loopback address makes the token the only protection' -r
complete -c aisys -n "__fish_aisys_using_subcommand docs" -l project -d 'The project whose .claude/ the Context tab shows (default: the current folder\'s project)' -r -F
complete -c aisys -n "__fish_aisys_using_subcommand docs" -l color -d 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c aisys -n "__fish_aisys_using_subcommand docs" -l config -d 'Read settings from this file instead of ~/.config/aisys/config.toml' -r -F
complete -c aisys -n "__fish_aisys_using_subcommand docs" -l open -d 'Open the viewer in the browser (the default on a terminal)'
complete -c aisys -n "__fish_aisys_using_subcommand docs" -l no-open -d 'Do not open a browser'
complete -c aisys -n "__fish_aisys_using_subcommand docs" -s v -l verbose -d 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
complete -c aisys -n "__fish_aisys_using_subcommand docs" -s q -l quiet -d 'Print only errors and the command\'s own output'
complete -c aisys -n "__fish_aisys_using_subcommand docs" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c aisys -n "__fish_aisys_using_subcommand transcript; and not __fish_seen_subcommand_from parse stats list help" -l color -d 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c aisys -n "__fish_aisys_using_subcommand transcript; and not __fish_seen_subcommand_from parse stats list help" -l config -d 'Read settings from this file instead of ~/.config/aisys/config.toml' -r -F
complete -c aisys -n "__fish_aisys_using_subcommand transcript; and not __fish_seen_subcommand_from parse stats list help" -s v -l verbose -d 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
complete -c aisys -n "__fish_aisys_using_subcommand transcript; and not __fish_seen_subcommand_from parse stats list help" -s q -l quiet -d 'Print only errors and the command\'s own output'
complete -c aisys -n "__fish_aisys_using_subcommand transcript; and not __fish_seen_subcommand_from parse stats list help" -s h -l help -d 'Print help'
complete -c aisys -n "__fish_aisys_using_subcommand transcript; and not __fish_seen_subcommand_from parse stats list help" -f -a "parse" -d 'Turn transcripts and agent output streams into readable conversations'
complete -c aisys -n "__fish_aisys_using_subcommand transcript; and not __fish_seen_subcommand_from parse stats list help" -f -a "stats" -d 'Count tokens and cost in transcripts'
complete -c aisys -n "__fish_aisys_using_subcommand transcript; and not __fish_seen_subcommand_from parse stats list help" -f -a "list" -d 'List the Claude Code sessions on this machine, newest first'
complete -c aisys -n "__fish_aisys_using_subcommand transcript; and not __fish_seen_subcommand_from parse stats list help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c aisys -n "__fish_aisys_using_subcommand transcript; and __fish_seen_subcommand_from parse" -l from -d 'Input format; auto detects it per file from the first lines' -r -f -a "auto\t'Detect per file from its first lines'
claude-transcript\t'Claude Code session transcript (~/.claude/projects/**/*.jsonl)'
claude-stream-json\t'`claude -p --output-format stream-json` (or `json`) output'
opencode-json\t'`opencode run --format json` output'
opencode-export\t'`opencode export` document'"
complete -c aisys -n "__fish_aisys_using_subcommand transcript; and __fish_seen_subcommand_from parse" -l format -d 'Output format (default: from the -o file\'s extension, else text on a terminal, jsonl otherwise)' -r -f -a "text\t'Readable terminal text, colored on a terminal'
jsonl\t'One JSON object per line'
json\t'One JSON document'
markdown\t'Markdown, a heading per turn (also `md`)'
html\t'One self-contained HTML page'"
complete -c aisys -n "__fish_aisys_using_subcommand transcript; and __fish_seen_subcommand_from parse" -s o -l output -d 'Write to this file instead of stdout; its extension (.md, .html, .json, .jsonl, .txt) picks the format when --format is not given. The file is written whole at the end: an error, or a bad line with --strict, leaves it as it was; without --strict bad lines are reported, the rest is written and the exit status is 3. A folder (existing, or a name ending in `/`) gets one HTML page per session and an index.html that lists them, with a search' -r -F
complete -c aisys -n "__fish_aisys_using_subcommand transcript; and __fish_seen_subcommand_from parse" -l session -d 'Only the session with this id, or the one id that starts with it (as `transcript list` shows it). Without INPUT, the session is looked up in Claude Code\'s projects folder' -r
complete -c aisys -n "__fish_aisys_using_subcommand transcript; and __fish_seen_subcommand_from parse" -l since -d 'Only what happened at or after this time: RFC 3339, or a date (YYYY-MM-DD) meaning its midnight in the --tz zone' -r
complete -c aisys -n "__fish_aisys_using_subcommand transcript; and __fish_seen_subcommand_from parse" -l until -d 'Only what happened before this time: RFC 3339, or a date (YYYY-MM-DD) meaning its midnight in the --tz zone' -r
complete -c aisys -n "__fish_aisys_using_subcommand transcript; and __fish_seen_subcommand_from parse" -l max-output-lines -d 'Cut tool results longer than this many lines (their start and end are kept)' -r
complete -c aisys -n "__fish_aisys_using_subcommand transcript; and __fish_seen_subcommand_from parse" -l tz -d 'Time zone of the times shown (and dates given to --since/--until are read in): an IANA name (Europe/Paris), UTC, or local' -r
complete -c aisys -n "__fish_aisys_using_subcommand transcript; and __fish_seen_subcommand_from parse" -l color -d 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c aisys -n "__fish_aisys_using_subcommand transcript; and __fish_seen_subcommand_from parse" -l config -d 'Read settings from this file instead of ~/.config/aisys/config.toml' -r -F
complete -c aisys -n "__fish_aisys_using_subcommand transcript; and __fish_seen_subcommand_from parse" -l events -d 'Print StreamEvents instead of conversation blocks, as JSON lines (--format jsonl; other formats are refused)'
complete -c aisys -n "__fish_aisys_using_subcommand transcript; and __fish_seen_subcommand_from parse" -l follow -d 'Keep reading as the transcript grows, printing blocks as lines arrive'
complete -c aisys -n "__fish_aisys_using_subcommand transcript; and __fish_seen_subcommand_from parse" -l no-sidechains -d 'Leave out subagent conversations'
complete -c aisys -n "__fish_aisys_using_subcommand transcript; and __fish_seen_subcommand_from parse" -l no-thinking -d 'Leave out thinking blocks'
complete -c aisys -n "__fish_aisys_using_subcommand transcript; and __fish_seen_subcommand_from parse" -l strict -d 'Stop at the first bad line instead of reporting it and going on'
complete -c aisys -n "__fish_aisys_using_subcommand transcript; and __fish_seen_subcommand_from parse" -s v -l verbose -d 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
complete -c aisys -n "__fish_aisys_using_subcommand transcript; and __fish_seen_subcommand_from parse" -s q -l quiet -d 'Print only errors and the command\'s own output'
complete -c aisys -n "__fish_aisys_using_subcommand transcript; and __fish_seen_subcommand_from parse" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c aisys -n "__fish_aisys_using_subcommand transcript; and __fish_seen_subcommand_from stats" -l by -d 'How to group the counts' -r -f -a "session\t''
day\t''
week\t'ISO weeks, Monday to Sunday (`2026-W09`)'
month\t''
model\t''
project\t''"
complete -c aisys -n "__fish_aisys_using_subcommand transcript; and __fish_seen_subcommand_from stats" -l format -d 'Output format' -r -f -a "table\t''
json\t''
csv\t''"
complete -c aisys -n "__fish_aisys_using_subcommand transcript; and __fish_seen_subcommand_from stats" -l tz -d 'Time zone days, weeks and months are cut in (and dates given to --since/--until are read in): an IANA name (Europe/Paris), UTC, or local. The table\'s header names it' -r
complete -c aisys -n "__fish_aisys_using_subcommand transcript; and __fish_seen_subcommand_from stats" -l pricing -d 'A TOML or JSON file of per-model prices (USD per million tokens) that replaces the built-in ones' -r -F
complete -c aisys -n "__fish_aisys_using_subcommand transcript; and __fish_seen_subcommand_from stats" -l since -d 'Only usage at or after this time: RFC 3339, or a date (YYYY-MM-DD) meaning its midnight in the --tz zone' -r
complete -c aisys -n "__fish_aisys_using_subcommand transcript; and __fish_seen_subcommand_from stats" -l until -d 'Only usage before this time: RFC 3339, or a date (YYYY-MM-DD) meaning its midnight in the --tz zone' -r
complete -c aisys -n "__fish_aisys_using_subcommand transcript; and __fish_seen_subcommand_from stats" -l color -d 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c aisys -n "__fish_aisys_using_subcommand transcript; and __fish_seen_subcommand_from stats" -l config -d 'Read settings from this file instead of ~/.config/aisys/config.toml' -r -F
complete -c aisys -n "__fish_aisys_using_subcommand transcript; and __fish_seen_subcommand_from stats" -l strict -d 'Stop at the first bad line instead of reporting it and going on'
complete -c aisys -n "__fish_aisys_using_subcommand transcript; and __fish_seen_subcommand_from stats" -s v -l verbose -d 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
complete -c aisys -n "__fish_aisys_using_subcommand transcript; and __fish_seen_subcommand_from stats" -s q -l quiet -d 'Print only errors and the command\'s own output'
complete -c aisys -n "__fish_aisys_using_subcommand transcript; and __fish_seen_subcommand_from stats" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c aisys -n "__fish_aisys_using_subcommand transcript; and __fish_seen_subcommand_from list" -l format -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c aisys -n "__fish_aisys_using_subcommand transcript; and __fish_seen_subcommand_from list" -l color -d 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c aisys -n "__fish_aisys_using_subcommand transcript; and __fish_seen_subcommand_from list" -l config -d 'Read settings from this file instead of ~/.config/aisys/config.toml' -r -F
complete -c aisys -n "__fish_aisys_using_subcommand transcript; and __fish_seen_subcommand_from list" -s v -l verbose -d 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
complete -c aisys -n "__fish_aisys_using_subcommand transcript; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print only errors and the command\'s own output'
complete -c aisys -n "__fish_aisys_using_subcommand transcript; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c aisys -n "__fish_aisys_using_subcommand transcript; and __fish_seen_subcommand_from help" -f -a "parse" -d 'Turn transcripts and agent output streams into readable conversations'
complete -c aisys -n "__fish_aisys_using_subcommand transcript; and __fish_seen_subcommand_from help" -f -a "stats" -d 'Count tokens and cost in transcripts'
complete -c aisys -n "__fish_aisys_using_subcommand transcript; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the Claude Code sessions on this machine, newest first'
complete -c aisys -n "__fish_aisys_using_subcommand transcript; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and not __fish_seen_subcommand_from list show install uninstall enable disable validate marketplace profile mcp help" -l color -d 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c aisys -n "__fish_aisys_using_subcommand entities; and not __fish_seen_subcommand_from list show install uninstall enable disable validate marketplace profile mcp help" -l config -d 'Read settings from this file instead of ~/.config/aisys/config.toml' -r -F
complete -c aisys -n "__fish_aisys_using_subcommand entities; and not __fish_seen_subcommand_from list show install uninstall enable disable validate marketplace profile mcp help" -s v -l verbose -d 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and not __fish_seen_subcommand_from list show install uninstall enable disable validate marketplace profile mcp help" -s q -l quiet -d 'Print only errors and the command\'s own output'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and not __fish_seen_subcommand_from list show install uninstall enable disable validate marketplace profile mcp help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and not __fish_seen_subcommand_from list show install uninstall enable disable validate marketplace profile mcp help" -f -a "list" -d 'List every entity in every scope, what is active, and what hides what'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and not __fish_seen_subcommand_from list show install uninstall enable disable validate marketplace profile mcp help" -f -a "show" -d 'Show one entity: its frontmatter, path and body'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and not __fish_seen_subcommand_from list show install uninstall enable disable validate marketplace profile mcp help" -f -a "install" -d 'Install a plugin from a known marketplace, and enable it'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and not __fish_seen_subcommand_from list show install uninstall enable disable validate marketplace profile mcp help" -f -a "uninstall" -d 'Uninstall a plugin: its record and enabled flag go; its copy stays in the cache'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and not __fish_seen_subcommand_from list show install uninstall enable disable validate marketplace profile mcp help" -f -a "enable" -d 'Enable an installed plugin in the settings of a scope'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and not __fish_seen_subcommand_from list show install uninstall enable disable validate marketplace profile mcp help" -f -a "disable" -d 'Disable a plugin in the settings of a scope, keeping it installed'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and not __fish_seen_subcommand_from list show install uninstall enable disable validate marketplace profile mcp help" -f -a "validate" -d 'Check a plugin, skill, command or agent the way its author needs'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and not __fish_seen_subcommand_from list show install uninstall enable disable validate marketplace profile mcp help" -f -a "marketplace" -d 'Add, list, update and remove plugin marketplaces'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and not __fish_seen_subcommand_from list show install uninstall enable disable validate marketplace profile mcp help" -f -a "profile" -d 'The agent profiles: what a sandboxed agent gets of skills, plugins, subagents, commands, hooks, MCP servers and rules (`user`, `none`, and the config file\'s `[profiles.NAME]`)'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and not __fish_seen_subcommand_from list show install uninstall enable disable validate marketplace profile mcp help" -f -a "mcp" -d 'Add, list, change and remove MCP servers, in the same files as `claude mcp`'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and not __fish_seen_subcommand_from list show install uninstall enable disable validate marketplace profile mcp help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from list" -l kind -d 'Only this kind' -r -f -a "skill\t''
command\t''
agent\t''
hook\t''
mcp\t''
plugin\t''
marketplace\t''"
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from list" -l scope -d 'Only this scope' -r -f -a "user\t'`~/.claude` or `$CLAUDE_CONFIG_DIR`'
project\t'A project\'s `.claude/` (and its `.mcp.json`)'
plugin\t'An installed plugin'"
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from list" -l project -d 'The project whose .claude/ is the project scope (default: the current folder and its git root)' -r -F
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from list" -l format -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from list" -l color -d 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from list" -l config -d 'Read settings from this file instead of ~/.config/aisys/config.toml' -r -F
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from list" -l strict -d 'Treat warnings (bad frontmatter, unreadable files) as a failure (exit 3)'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from list" -s v -l verbose -d 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print only errors and the command\'s own output'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from show" -l project -d 'The project whose .claude/ is the project scope' -r -F
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from show" -l color -d 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from show" -l config -d 'Read settings from this file instead of ~/.config/aisys/config.toml' -r -F
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from show" -s v -l verbose -d 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Print only errors and the command\'s own output'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from install" -l scope -d 'Which settings: user (~/.claude/settings.json), project (.claude/settings.json) or local (.claude/settings.local.json, not shared)' -r -f -a "user\t'~/.claude/settings.json'
project\t'The project\'s .claude/settings.json, shared through the repository'
local\t'The project\'s .claude/settings.local.json, for you only'"
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from install" -l project -d 'The project for --scope project or local (default: the current folder)' -r -F
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from install" -l color -d 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from install" -l config -d 'Read settings from this file instead of ~/.config/aisys/config.toml' -r -F
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from install" -s v -l verbose -d 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from install" -s q -l quiet -d 'Print only errors and the command\'s own output'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from install" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from uninstall" -l scope -d 'Which settings: user (~/.claude/settings.json), project (.claude/settings.json) or local (.claude/settings.local.json, not shared)' -r -f -a "user\t'~/.claude/settings.json'
project\t'The project\'s .claude/settings.json, shared through the repository'
local\t'The project\'s .claude/settings.local.json, for you only'"
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from uninstall" -l project -d 'The project for --scope project or local (default: the current folder)' -r -F
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from uninstall" -l color -d 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from uninstall" -l config -d 'Read settings from this file instead of ~/.config/aisys/config.toml' -r -F
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from uninstall" -s v -l verbose -d 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from uninstall" -s q -l quiet -d 'Print only errors and the command\'s own output'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from uninstall" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from enable" -l scope -d 'Which settings: user (~/.claude/settings.json), project (.claude/settings.json) or local (.claude/settings.local.json, not shared)' -r -f -a "user\t'~/.claude/settings.json'
project\t'The project\'s .claude/settings.json, shared through the repository'
local\t'The project\'s .claude/settings.local.json, for you only'"
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from enable" -l project -d 'The project for --scope project or local (default: the current folder)' -r -F
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from enable" -l color -d 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from enable" -l config -d 'Read settings from this file instead of ~/.config/aisys/config.toml' -r -F
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from enable" -s v -l verbose -d 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from enable" -s q -l quiet -d 'Print only errors and the command\'s own output'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from enable" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from disable" -l scope -d 'Which settings: user (~/.claude/settings.json), project (.claude/settings.json) or local (.claude/settings.local.json, not shared)' -r -f -a "user\t'~/.claude/settings.json'
project\t'The project\'s .claude/settings.json, shared through the repository'
local\t'The project\'s .claude/settings.local.json, for you only'"
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from disable" -l project -d 'The project for --scope project or local (default: the current folder)' -r -F
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from disable" -l color -d 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from disable" -l config -d 'Read settings from this file instead of ~/.config/aisys/config.toml' -r -F
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from disable" -s v -l verbose -d 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from disable" -s q -l quiet -d 'Print only errors and the command\'s own output'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from disable" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from validate" -l format -d 'Output format: one finding a line, or JSON' -r -f -a "table\t''
json\t''"
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from validate" -l color -d 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from validate" -l config -d 'Read settings from this file instead of ~/.config/aisys/config.toml' -r -F
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from validate" -s v -l verbose -d 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from validate" -s q -l quiet -d 'Print only errors and the command\'s own output'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from validate" -s h -l help -d 'Print help'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from marketplace" -l color -d 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from marketplace" -l config -d 'Read settings from this file instead of ~/.config/aisys/config.toml' -r -F
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from marketplace" -s v -l verbose -d 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from marketplace" -s q -l quiet -d 'Print only errors and the command\'s own output'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from marketplace" -s h -l help -d 'Print help'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from marketplace" -f -a "add" -d 'Add a marketplace from a git URL, a GitHub owner/repo, a hosted marketplace.json URL, or a local folder'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from marketplace" -f -a "list" -d 'List the known marketplaces'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from marketplace" -f -a "update" -d 'Fetch the newest version of one marketplace, or of all'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from marketplace" -f -a "remove" -d 'Remove a marketplace and the plugins installed from it'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from marketplace" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from profile" -l color -d 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from profile" -l config -d 'Read settings from this file instead of ~/.config/aisys/config.toml' -r -F
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from profile" -s v -l verbose -d 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from profile" -s q -l quiet -d 'Print only errors and the command\'s own output'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from profile" -s h -l help -d 'Print help'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from profile" -f -a "list" -d 'List the profiles and what each holds'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from profile" -f -a "show" -d 'Show what one profile resolves to: each entity, where it comes from, what hides what'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from profile" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from mcp" -l color -d 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from mcp" -l config -d 'Read settings from this file instead of ~/.config/aisys/config.toml' -r -F
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from mcp" -s v -l verbose -d 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from mcp" -s q -l quiet -d 'Print only errors and the command\'s own output'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from mcp" -s h -l help -d 'Print help'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from mcp" -f -a "list" -d 'List the MCP servers of every scope (local, project, user)'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from mcp" -f -a "add" -d 'Add a server: a command to run (stdio) or a URL (http, sse)'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from mcp" -f -a "edit" -d 'Change an existing server: give it again as `add` would; it keeps its place in the file, and keys of its entry that `add` does not write'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from mcp" -f -a "remove" -d 'Remove a server'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from mcp" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from help" -f -a "list" -d 'List every entity in every scope, what is active, and what hides what'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show one entity: its frontmatter, path and body'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from help" -f -a "install" -d 'Install a plugin from a known marketplace, and enable it'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from help" -f -a "uninstall" -d 'Uninstall a plugin: its record and enabled flag go; its copy stays in the cache'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from help" -f -a "enable" -d 'Enable an installed plugin in the settings of a scope'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from help" -f -a "disable" -d 'Disable a plugin in the settings of a scope, keeping it installed'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from help" -f -a "validate" -d 'Check a plugin, skill, command or agent the way its author needs'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from help" -f -a "marketplace" -d 'Add, list, update and remove plugin marketplaces'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from help" -f -a "profile" -d 'The agent profiles: what a sandboxed agent gets of skills, plugins, subagents, commands, hooks, MCP servers and rules (`user`, `none`, and the config file\'s `[profiles.NAME]`)'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from help" -f -a "mcp" -d 'Add, list, change and remove MCP servers, in the same files as `claude mcp`'
complete -c aisys -n "__fish_aisys_using_subcommand entities; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c aisys -n "__fish_aisys_using_subcommand agents; and not __fish_seen_subcommand_from list install help" -l color -d 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c aisys -n "__fish_aisys_using_subcommand agents; and not __fish_seen_subcommand_from list install help" -l config -d 'Read settings from this file instead of ~/.config/aisys/config.toml' -r -F
complete -c aisys -n "__fish_aisys_using_subcommand agents; and not __fish_seen_subcommand_from list install help" -s v -l verbose -d 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
complete -c aisys -n "__fish_aisys_using_subcommand agents; and not __fish_seen_subcommand_from list install help" -s q -l quiet -d 'Print only errors and the command\'s own output'
complete -c aisys -n "__fish_aisys_using_subcommand agents; and not __fish_seen_subcommand_from list install help" -s h -l help -d 'Print help'
complete -c aisys -n "__fish_aisys_using_subcommand agents; and not __fish_seen_subcommand_from list install help" -f -a "list" -d 'Show each agent, the binary aisys would run and its version, or why it is missing'
complete -c aisys -n "__fish_aisys_using_subcommand agents; and not __fish_seen_subcommand_from list install help" -f -a "install" -d 'Install an agent CLI from the npm registry into aisys\'s data folder (no npm needed)'
complete -c aisys -n "__fish_aisys_using_subcommand agents; and not __fish_seen_subcommand_from list install help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c aisys -n "__fish_aisys_using_subcommand agents; and __fish_seen_subcommand_from list" -l format -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c aisys -n "__fish_aisys_using_subcommand agents; and __fish_seen_subcommand_from list" -l color -d 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c aisys -n "__fish_aisys_using_subcommand agents; and __fish_seen_subcommand_from list" -l config -d 'Read settings from this file instead of ~/.config/aisys/config.toml' -r -F
complete -c aisys -n "__fish_aisys_using_subcommand agents; and __fish_seen_subcommand_from list" -s v -l verbose -d 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
complete -c aisys -n "__fish_aisys_using_subcommand agents; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print only errors and the command\'s own output'
complete -c aisys -n "__fish_aisys_using_subcommand agents; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c aisys -n "__fish_aisys_using_subcommand agents; and __fish_seen_subcommand_from install" -l version -d 'The version (or dist-tag) to install (default: the version aisys is tested with)' -r
complete -c aisys -n "__fish_aisys_using_subcommand agents; and __fish_seen_subcommand_from install" -l color -d 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c aisys -n "__fish_aisys_using_subcommand agents; and __fish_seen_subcommand_from install" -l config -d 'Read settings from this file instead of ~/.config/aisys/config.toml' -r -F
complete -c aisys -n "__fish_aisys_using_subcommand agents; and __fish_seen_subcommand_from install" -s v -l verbose -d 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
complete -c aisys -n "__fish_aisys_using_subcommand agents; and __fish_seen_subcommand_from install" -s q -l quiet -d 'Print only errors and the command\'s own output'
complete -c aisys -n "__fish_aisys_using_subcommand agents; and __fish_seen_subcommand_from install" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c aisys -n "__fish_aisys_using_subcommand agents; and __fish_seen_subcommand_from help" -f -a "list" -d 'Show each agent, the binary aisys would run and its version, or why it is missing'
complete -c aisys -n "__fish_aisys_using_subcommand agents; and __fish_seen_subcommand_from help" -f -a "install" -d 'Install an agent CLI from the npm registry into aisys\'s data folder (no npm needed)'
complete -c aisys -n "__fish_aisys_using_subcommand agents; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c aisys -n "__fish_aisys_using_subcommand sandboxes; and not __fish_seen_subcommand_from list prune help" -l color -d 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c aisys -n "__fish_aisys_using_subcommand sandboxes; and not __fish_seen_subcommand_from list prune help" -l config -d 'Read settings from this file instead of ~/.config/aisys/config.toml' -r -F
complete -c aisys -n "__fish_aisys_using_subcommand sandboxes; and not __fish_seen_subcommand_from list prune help" -s v -l verbose -d 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
complete -c aisys -n "__fish_aisys_using_subcommand sandboxes; and not __fish_seen_subcommand_from list prune help" -s q -l quiet -d 'Print only errors and the command\'s own output'
complete -c aisys -n "__fish_aisys_using_subcommand sandboxes; and not __fish_seen_subcommand_from list prune help" -s h -l help -d 'Print help'
complete -c aisys -n "__fish_aisys_using_subcommand sandboxes; and not __fish_seen_subcommand_from list prune help" -f -a "list" -d 'Which sandboxes: those of the Modal app, optionally of one session'
complete -c aisys -n "__fish_aisys_using_subcommand sandboxes; and not __fish_seen_subcommand_from list prune help" -f -a "prune" -d 'Which sandboxes: those of the Modal app, optionally of one session'
complete -c aisys -n "__fish_aisys_using_subcommand sandboxes; and not __fish_seen_subcommand_from list prune help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c aisys -n "__fish_aisys_using_subcommand sandboxes; and __fish_seen_subcommand_from list" -l modal-app -d 'The Modal app the sandboxes belong to' -r
complete -c aisys -n "__fish_aisys_using_subcommand sandboxes; and __fish_seen_subcommand_from list" -l session -d 'Only the sandbox of this session' -r
complete -c aisys -n "__fish_aisys_using_subcommand sandboxes; and __fish_seen_subcommand_from list" -l color -d 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c aisys -n "__fish_aisys_using_subcommand sandboxes; and __fish_seen_subcommand_from list" -l config -d 'Read settings from this file instead of ~/.config/aisys/config.toml' -r -F
complete -c aisys -n "__fish_aisys_using_subcommand sandboxes; and __fish_seen_subcommand_from list" -s v -l verbose -d 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
complete -c aisys -n "__fish_aisys_using_subcommand sandboxes; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print only errors and the command\'s own output'
complete -c aisys -n "__fish_aisys_using_subcommand sandboxes; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c aisys -n "__fish_aisys_using_subcommand sandboxes; and __fish_seen_subcommand_from prune" -l modal-app -d 'The Modal app the sandboxes belong to' -r
complete -c aisys -n "__fish_aisys_using_subcommand sandboxes; and __fish_seen_subcommand_from prune" -l session -d 'Only the sandbox of this session' -r
complete -c aisys -n "__fish_aisys_using_subcommand sandboxes; and __fish_seen_subcommand_from prune" -l color -d 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c aisys -n "__fish_aisys_using_subcommand sandboxes; and __fish_seen_subcommand_from prune" -l config -d 'Read settings from this file instead of ~/.config/aisys/config.toml' -r -F
complete -c aisys -n "__fish_aisys_using_subcommand sandboxes; and __fish_seen_subcommand_from prune" -s v -l verbose -d 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
complete -c aisys -n "__fish_aisys_using_subcommand sandboxes; and __fish_seen_subcommand_from prune" -s q -l quiet -d 'Print only errors and the command\'s own output'
complete -c aisys -n "__fish_aisys_using_subcommand sandboxes; and __fish_seen_subcommand_from prune" -s h -l help -d 'Print help'
complete -c aisys -n "__fish_aisys_using_subcommand sandboxes; and __fish_seen_subcommand_from help" -f -a "list" -d 'Which sandboxes: those of the Modal app, optionally of one session'
complete -c aisys -n "__fish_aisys_using_subcommand sandboxes; and __fish_seen_subcommand_from help" -f -a "prune" -d 'Which sandboxes: those of the Modal app, optionally of one session'
complete -c aisys -n "__fish_aisys_using_subcommand sandboxes; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c aisys -n "__fish_aisys_using_subcommand doctor" -l format -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c aisys -n "__fish_aisys_using_subcommand doctor" -l color -d 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c aisys -n "__fish_aisys_using_subcommand doctor" -l config -d 'Read settings from this file instead of ~/.config/aisys/config.toml' -r -F
complete -c aisys -n "__fish_aisys_using_subcommand doctor" -s v -l verbose -d 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
complete -c aisys -n "__fish_aisys_using_subcommand doctor" -s q -l quiet -d 'Print only errors and the command\'s own output'
complete -c aisys -n "__fish_aisys_using_subcommand doctor" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c aisys -n "__fish_aisys_using_subcommand completions" -l color -d 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c aisys -n "__fish_aisys_using_subcommand completions" -l config -d 'Read settings from this file instead of ~/.config/aisys/config.toml' -r -F
complete -c aisys -n "__fish_aisys_using_subcommand completions" -s v -l verbose -d 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
complete -c aisys -n "__fish_aisys_using_subcommand completions" -s q -l quiet -d 'Print only errors and the command\'s own output'
complete -c aisys -n "__fish_aisys_using_subcommand completions" -s h -l help -d 'Print help'
complete -c aisys -n "__fish_aisys_using_subcommand generate; and not __fish_seen_subcommand_from docs schema help" -l color -d 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c aisys -n "__fish_aisys_using_subcommand generate; and not __fish_seen_subcommand_from docs schema help" -l config -d 'Read settings from this file instead of ~/.config/aisys/config.toml' -r -F
complete -c aisys -n "__fish_aisys_using_subcommand generate; and not __fish_seen_subcommand_from docs schema help" -s v -l verbose -d 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
complete -c aisys -n "__fish_aisys_using_subcommand generate; and not __fish_seen_subcommand_from docs schema help" -s q -l quiet -d 'Print only errors and the command\'s own output'
complete -c aisys -n "__fish_aisys_using_subcommand generate; and not __fish_seen_subcommand_from docs schema help" -s h -l help -d 'Print help'
complete -c aisys -n "__fish_aisys_using_subcommand generate; and not __fish_seen_subcommand_from docs schema help" -f -a "docs" -d 'Write completions/, man/ and commands/ from the command-line definitions, and the README\'s exit-status and environment tables'
complete -c aisys -n "__fish_aisys_using_subcommand generate; and not __fish_seen_subcommand_from docs schema help" -f -a "schema" -d 'Write docs/schema/ (JSON Schemas and examples) and docs/protocol.md from the shared types'
complete -c aisys -n "__fish_aisys_using_subcommand generate; and not __fish_seen_subcommand_from docs schema help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c aisys -n "__fish_aisys_using_subcommand generate; and __fish_seen_subcommand_from docs" -l out -d 'The project folder to write into' -r -F
complete -c aisys -n "__fish_aisys_using_subcommand generate; and __fish_seen_subcommand_from docs" -l color -d 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c aisys -n "__fish_aisys_using_subcommand generate; and __fish_seen_subcommand_from docs" -l config -d 'Read settings from this file instead of ~/.config/aisys/config.toml' -r -F
complete -c aisys -n "__fish_aisys_using_subcommand generate; and __fish_seen_subcommand_from docs" -s v -l verbose -d 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
complete -c aisys -n "__fish_aisys_using_subcommand generate; and __fish_seen_subcommand_from docs" -s q -l quiet -d 'Print only errors and the command\'s own output'
complete -c aisys -n "__fish_aisys_using_subcommand generate; and __fish_seen_subcommand_from docs" -s h -l help -d 'Print help'
complete -c aisys -n "__fish_aisys_using_subcommand generate; and __fish_seen_subcommand_from schema" -l out -d 'The project folder to write into' -r -F
complete -c aisys -n "__fish_aisys_using_subcommand generate; and __fish_seen_subcommand_from schema" -l color -d 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c aisys -n "__fish_aisys_using_subcommand generate; and __fish_seen_subcommand_from schema" -l config -d 'Read settings from this file instead of ~/.config/aisys/config.toml' -r -F
complete -c aisys -n "__fish_aisys_using_subcommand generate; and __fish_seen_subcommand_from schema" -s v -l verbose -d 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
complete -c aisys -n "__fish_aisys_using_subcommand generate; and __fish_seen_subcommand_from schema" -s q -l quiet -d 'Print only errors and the command\'s own output'
complete -c aisys -n "__fish_aisys_using_subcommand generate; and __fish_seen_subcommand_from schema" -s h -l help -d 'Print help'
complete -c aisys -n "__fish_aisys_using_subcommand generate; and __fish_seen_subcommand_from help" -f -a "docs" -d 'Write completions/, man/ and commands/ from the command-line definitions, and the README\'s exit-status and environment tables'
complete -c aisys -n "__fish_aisys_using_subcommand generate; and __fish_seen_subcommand_from help" -f -a "schema" -d 'Write docs/schema/ (JSON Schemas and examples) and docs/protocol.md from the shared types'
complete -c aisys -n "__fish_aisys_using_subcommand generate; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c aisys -n "__fish_aisys_using_subcommand sandbox-init" -l relay -d 'Listen on ADDR inside the sandbox and relay each connection to the Unix socket SOCKET' -r
complete -c aisys -n "__fish_aisys_using_subcommand sandbox-init" -l color -d 'When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c aisys -n "__fish_aisys_using_subcommand sandbox-init" -l config -d 'Read settings from this file instead of ~/.config/aisys/config.toml' -r -F
complete -c aisys -n "__fish_aisys_using_subcommand sandbox-init" -s v -l verbose -d 'Log more on stderr: -v for info, -vv for debug, -vvv for trace'
complete -c aisys -n "__fish_aisys_using_subcommand sandbox-init" -s q -l quiet -d 'Print only errors and the command\'s own output'
complete -c aisys -n "__fish_aisys_using_subcommand sandbox-init" -s h -l help -d 'Print help'
complete -c aisys -n "__fish_aisys_using_subcommand help; and not __fish_seen_subcommand_from serve chat run docs transcript entities agents sandboxes doctor completions generate sandbox-init help" -f -a "serve" -d 'Start the agent server that `aisys chat` and other WebSocket clients talk to'
complete -c aisys -n "__fish_aisys_using_subcommand help; and not __fish_seen_subcommand_from serve chat run docs transcript entities agents sandboxes doctor completions generate sandbox-init help" -f -a "chat" -d 'Chat with coding agents in a terminal UI'
complete -c aisys -n "__fish_aisys_using_subcommand help; and not __fish_seen_subcommand_from serve chat run docs transcript entities agents sandboxes doctor completions generate sandbox-init help" -f -a "run" -d 'Run one query with a coding agent in a sandbox, and stream what it does'
complete -c aisys -n "__fish_aisys_using_subcommand help; and not __fish_seen_subcommand_from serve chat run docs transcript entities agents sandboxes doctor completions generate sandbox-init help" -f -a "docs" -d 'Browse a project\'s docs, and what Claude Code loads there, in the browser'
complete -c aisys -n "__fish_aisys_using_subcommand help; and not __fish_seen_subcommand_from serve chat run docs transcript entities agents sandboxes doctor completions generate sandbox-init help" -f -a "transcript" -d 'Read agent transcripts and streams: convert them, count their cost, list sessions'
complete -c aisys -n "__fish_aisys_using_subcommand help; and not __fish_seen_subcommand_from serve chat run docs transcript entities agents sandboxes doctor completions generate sandbox-init help" -f -a "entities" -d 'Find, inspect and install Claude Code plugins, skills, commands, agents and marketplaces'
complete -c aisys -n "__fish_aisys_using_subcommand help; and not __fish_seen_subcommand_from serve chat run docs transcript entities agents sandboxes doctor completions generate sandbox-init help" -f -a "agents" -d 'Show and install the coding agents aisys can run'
complete -c aisys -n "__fish_aisys_using_subcommand help; and not __fish_seen_subcommand_from serve chat run docs transcript entities agents sandboxes doctor completions generate sandbox-init help" -f -a "sandboxes" -d 'Show or remove aisys\'s sandboxes on Modal'
complete -c aisys -n "__fish_aisys_using_subcommand help; and not __fish_seen_subcommand_from serve chat run docs transcript entities agents sandboxes doctor completions generate sandbox-init help" -f -a "doctor" -d 'Check that this machine can run agents, and say how to fix what it lacks'
complete -c aisys -n "__fish_aisys_using_subcommand help; and not __fish_seen_subcommand_from serve chat run docs transcript entities agents sandboxes doctor completions generate sandbox-init help" -f -a "completions" -d 'Print a completion script for your shell'
complete -c aisys -n "__fish_aisys_using_subcommand help; and not __fish_seen_subcommand_from serve chat run docs transcript entities agents sandboxes doctor completions generate sandbox-init help" -f -a "generate" -d 'Write the generated reference files'
complete -c aisys -n "__fish_aisys_using_subcommand help; and not __fish_seen_subcommand_from serve chat run docs transcript entities agents sandboxes doctor completions generate sandbox-init help" -f -a "sandbox-init" -d 'Run a program inside a local sandbox behind its network relay (started by aisys itself)'
complete -c aisys -n "__fish_aisys_using_subcommand help; and not __fish_seen_subcommand_from serve chat run docs transcript entities agents sandboxes doctor completions generate sandbox-init help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c aisys -n "__fish_aisys_using_subcommand help; and __fish_seen_subcommand_from transcript" -f -a "parse" -d 'Turn transcripts and agent output streams into readable conversations'
complete -c aisys -n "__fish_aisys_using_subcommand help; and __fish_seen_subcommand_from transcript" -f -a "stats" -d 'Count tokens and cost in transcripts'
complete -c aisys -n "__fish_aisys_using_subcommand help; and __fish_seen_subcommand_from transcript" -f -a "list" -d 'List the Claude Code sessions on this machine, newest first'
complete -c aisys -n "__fish_aisys_using_subcommand help; and __fish_seen_subcommand_from entities" -f -a "list" -d 'List every entity in every scope, what is active, and what hides what'
complete -c aisys -n "__fish_aisys_using_subcommand help; and __fish_seen_subcommand_from entities" -f -a "show" -d 'Show one entity: its frontmatter, path and body'
complete -c aisys -n "__fish_aisys_using_subcommand help; and __fish_seen_subcommand_from entities" -f -a "install" -d 'Install a plugin from a known marketplace, and enable it'
complete -c aisys -n "__fish_aisys_using_subcommand help; and __fish_seen_subcommand_from entities" -f -a "uninstall" -d 'Uninstall a plugin: its record and enabled flag go; its copy stays in the cache'
complete -c aisys -n "__fish_aisys_using_subcommand help; and __fish_seen_subcommand_from entities" -f -a "enable" -d 'Enable an installed plugin in the settings of a scope'
complete -c aisys -n "__fish_aisys_using_subcommand help; and __fish_seen_subcommand_from entities" -f -a "disable" -d 'Disable a plugin in the settings of a scope, keeping it installed'
complete -c aisys -n "__fish_aisys_using_subcommand help; and __fish_seen_subcommand_from entities" -f -a "validate" -d 'Check a plugin, skill, command or agent the way its author needs'
complete -c aisys -n "__fish_aisys_using_subcommand help; and __fish_seen_subcommand_from entities" -f -a "marketplace" -d 'Add, list, update and remove plugin marketplaces'
complete -c aisys -n "__fish_aisys_using_subcommand help; and __fish_seen_subcommand_from entities" -f -a "profile" -d 'The agent profiles: what a sandboxed agent gets of skills, plugins, subagents, commands, hooks, MCP servers and rules (`user`, `none`, and the config file\'s `[profiles.NAME]`)'
complete -c aisys -n "__fish_aisys_using_subcommand help; and __fish_seen_subcommand_from entities" -f -a "mcp" -d 'Add, list, change and remove MCP servers, in the same files as `claude mcp`'
complete -c aisys -n "__fish_aisys_using_subcommand help; and __fish_seen_subcommand_from agents" -f -a "list" -d 'Show each agent, the binary aisys would run and its version, or why it is missing'
complete -c aisys -n "__fish_aisys_using_subcommand help; and __fish_seen_subcommand_from agents" -f -a "install" -d 'Install an agent CLI from the npm registry into aisys\'s data folder (no npm needed)'
complete -c aisys -n "__fish_aisys_using_subcommand help; and __fish_seen_subcommand_from sandboxes" -f -a "list" -d 'Which sandboxes: those of the Modal app, optionally of one session'
complete -c aisys -n "__fish_aisys_using_subcommand help; and __fish_seen_subcommand_from sandboxes" -f -a "prune" -d 'Which sandboxes: those of the Modal app, optionally of one session'
complete -c aisys -n "__fish_aisys_using_subcommand help; and __fish_seen_subcommand_from generate" -f -a "docs" -d 'Write completions/, man/ and commands/ from the command-line definitions, and the README\'s exit-status and environment tables'
complete -c aisys -n "__fish_aisys_using_subcommand help; and __fish_seen_subcommand_from generate" -f -a "schema" -d 'Write docs/schema/ (JSON Schemas and examples) and docs/protocol.md from the shared types'
