# bash completion for ophostctl(1): commands, options, list targets, and the
# names the daemon knows (sessions, gadgets, operators, plugins), asked with
# `ophostctl list ... -q` on the socket the command line names.

_ophostctl_names() {
    # $1: sessions|gadgets|operators|plugins; the socket options of the line.
    local what=$1 i sock=()
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
        -s | --socket) sock=(--socket "${COMP_WORDS[i + 1]}") ;;
        --socket=*) sock=("${COMP_WORDS[i]}") ;;
        -c | --config) sock+=(--config "${COMP_WORDS[i + 1]}") ;;
        esac
    done
    ophostctl "${sock[@]}" list "$what" -q 2>/dev/null
}

_ophostctl() {
    local cur prev words cword
    if declare -F _init_completion >/dev/null; then
        _init_completion -n = || return
    else
        cur=${COMP_WORDS[COMP_CWORD]}
        prev=${COMP_WORDS[COMP_CWORD - 1]}
        words=("${COMP_WORDS[@]}")
        cword=$COMP_CWORD
    fi
    local commands="list describe start stop watch run stats reload unquarantine"
    local cmd="" i
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
        -s | --socket | -c | --config | -H | --host | --hosts-file) ((i++)) ;;
        -*) ;;
        *)
            cmd=${words[i]}
            break
            ;;
        esac
    done

    case $prev in
    -s | --socket | -c | --config | --hosts-file)
        COMPREPLY=($(compgen -f -- "$cur"))
        return
        ;;
    -H | --host)
        # ssh://HOST from the hosts ssh knows (bash-completion's helper).
        if declare -F _known_hosts_real >/dev/null; then
            COMPREPLY=()
            _known_hosts_real -- "${cur#ssh://}"
            COMPREPLY=("${COMPREPLY[@]/#/ssh://}")
        else
            COMPREPLY=($(compgen -W "ssh://" -- "$cur"))
        fi
        return
        ;;
    -o | --output)
        COMPREPLY=($(compgen -W "columns json jsonpretty yaml" -- "$cur"))
        return
        ;;
    --operator)
        COMPREPLY=($(compgen -W "$(_ophostctl_names operators)" -- "$cur"))
        return
        ;;
    -p | --param | -f | --filter | -F | --fields | --sort | -m | --max-entries | -d | --duration | -n | --name)
        return
        ;;
    esac

    if [[ -z $cmd ]]; then
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "--socket --config --host --hosts-file --json --help --version" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$commands" -- "$cur"))
        fi
        return
    fi
    case $cmd in
    list)
        COMPREPLY=($(compgen -W "plugins operators gadgets sessions -q --json --help" -- "$cur"))
        ;;
    describe | start | stop | stats)
        COMPREPLY=($(compgen -W "$(_ophostctl_names sessions)" -- "$cur"))
        ;;
    watch)
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "--output --fields --json --help" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$(_ophostctl_names sessions)" -- "$cur"))
        fi
        ;;
    run)
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "--output --fields --filter --sort --max-entries --param --operator --duration --name --json --help" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$(_ophostctl_names gadgets)" -- "$cur"))
        fi
        ;;
    unquarantine)
        COMPREPLY=($(compgen -W "$(_ophostctl_names plugins)" -- "$cur"))
        ;;
    esac
}
complete -F _ophostctl ophostctl
