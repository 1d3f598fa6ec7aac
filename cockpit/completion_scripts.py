"""The shell side of cockpit's completion: one template per shell (cockpit.completion fills in the
tables at @@DATA@@, the option lists at @@FIRST@@ and @@AFTER@@).

Each defines `__cockpit_candidates WORD... CURRENT`, the same walk in each shell's words: skip
options and their values (the values say which options take one), follow the command words while
they name a command, count the positionals after it; then offer the value of the option just
typed, or options (when the word starts with `-`), or the command's subcommands and what its next
positional may be, or the next command words. `help` is followed by command words only. `@name`
reads the cached names of a listing (a line each; `--demo` on the line reads the demo's), `@file`
asks the shell for paths. Cached names were checked when written (cockpit.completion.SAFE) and
are never evaluated here: read line by line, compared as text.
"""

from __future__ import annotations

BASH = r"""
@@DATA@@
_cockpit_first='@@FIRST@@'
_cockpit_after='@@AFTER@@'

__cockpit_candidates() {
  local cur=${!#} cmd='' w spec='' valued='' helping='' demo='' t f line
  local dir=${XDG_STATE_HOME:-$HOME/.local/state}/cockpit/completion
  local -i npos=0 i
  local -a pos
  for ((i = 2; i < $#; i++)); do
    w=${!i}
    if [[ -n $valued ]]; then valued=''; continue; fi
    case $w in
      --demo) demo=1; continue ;;
      --*=*) continue ;;
      -*) if [[ -n ${_cockpit_vals[$w]+x} || -n ${_cockpit_vals[$cmd $w]+x} ]]; then valued=$w; fi
          continue ;;
    esac
    if [[ -z $cmd && -z $helping && $w == help ]]; then helping=1; continue; fi
    if [[ -n $cmd && -n ${_cockpit_opts[$cmd]+x} && " ${_cockpit_tree[^$cmd]-} " != *" $w "* ]]; then
      npos+=1; continue
    fi
    cmd=${cmd:+$cmd }$w
  done
  local whole=''
  [[ -n $cmd && -z $helping && -n ${_cockpit_opts[$cmd]+x} ]] && whole=1
  if [[ -n $valued ]]; then
    spec=${_cockpit_vals[$valued]-${_cockpit_vals[$cmd $valued]-}}
  elif [[ $cur == -* ]]; then
    if [[ -n $whole ]]; then spec="${_cockpit_opts[$cmd]} $_cockpit_after"
    elif [[ -z $cmd ]]; then spec=$_cockpit_first; fi
  elif [[ -n $whole ]]; then
    IFS='|' read -ra pos <<< "${_cockpit_pos[$cmd]}"
    spec="${pos[npos]-}"
    (( npos == 0 )) && spec="${_cockpit_tree[^$cmd]-} $spec"
  else
    spec=${_cockpit_tree[^$cmd]-}
  fi
  [[ -n $demo ]] && dir=$dir/demo
  for t in $spec; do
    case $t in
      @file) printf '%s\n' @file ;;
      @*) for f in ${t//,/ }; do
            f=${f#@}
            [[ -r $dir/$f ]] || continue
            while IFS= read -r line; do
              [[ -n $line && $line == "$cur"* ]] && printf '%s\n' "$line"
            done < "$dir/$f"
          done ;;
      *) [[ $t == "$cur"* ]] && printf '%s\n' "$t" ;;
    esac
  done
  return 0
}

_cockpit() {
  local cur=${COMP_WORDS[COMP_CWORD]}
  mapfile -t COMPREPLY < <(__cockpit_candidates "${COMP_WORDS[@]:0:COMP_CWORD+1}")
  if [[ ${COMPREPLY[0]-} == @file ]]; then
    compopt -o filenames 2>/dev/null
    mapfile -t COMPREPLY < <(compgen -f -- "$cur")
  fi
}
complete -F _cockpit cockpit
"""

ZSH = r"""#compdef cockpit
@@DATA@@
_cockpit_first='@@FIRST@@'
_cockpit_after='@@AFTER@@'

__cockpit_candidates() {
  emulate -L zsh
  local cur=${argv[-1]} cmd='' w spec='' valued='' helping='' demo='' t f line whole=''
  local dir=${XDG_STATE_HOME:-$HOME/.local/state}/cockpit/completion
  integer npos=0 i
  local -a pos
  for (( i = 2; i < $#; i++ )); do
    w=${argv[i]}
    if [[ -n $valued ]]; then valued=''; continue; fi
    case $w in
      (--demo) demo=1; continue ;;
      (--*=*) continue ;;
      (-*) if (( ${+_cockpit_vals[$w]} || ${+_cockpit_vals[$cmd $w]} )); then valued=$w; fi
           continue ;;
    esac
    if [[ -z $cmd && -z $helping && $w == help ]]; then helping=1; continue; fi
    if [[ -n $cmd ]] && (( ${+_cockpit_opts[$cmd]} )) && [[ " ${_cockpit_tree[^$cmd]} " != *" $w "* ]]; then
      (( npos++ )); continue
    fi
    cmd=${cmd:+$cmd }$w
  done
  [[ -n $cmd && -z $helping ]] && (( ${+_cockpit_opts[$cmd]} )) && whole=1
  if [[ -n $valued ]]; then
    if (( ${+_cockpit_vals[$valued]} )); then spec=${_cockpit_vals[$valued]}
    else spec=${_cockpit_vals[$cmd $valued]}; fi
  elif [[ $cur == -* ]]; then
    if [[ -n $whole ]]; then spec="${_cockpit_opts[$cmd]} $_cockpit_after"
    elif [[ -z $cmd ]]; then spec=$_cockpit_first; fi
  elif [[ -n $whole ]]; then
    pos=("${(@s:|:)_cockpit_pos[$cmd]}")
    spec=${pos[npos + 1]-}
    (( npos == 0 )) && spec="${_cockpit_tree[^$cmd]} $spec"
  else
    spec=${_cockpit_tree[^$cmd]}
  fi
  [[ -n $demo ]] && dir=$dir/demo
  for t in ${=spec}; do
    case $t in
      (@file) print -r -- @file ;;
      (@*) for f in ${(s:,:)${t#@}}; do
             [[ -r $dir/$f ]] || continue
             while IFS= read -r line; do
               [[ -n $line && $line == "$cur"* ]] && print -r -- "$line"
             done < "$dir/$f"
           done ;;
      (*) [[ $t == "$cur"* ]] && print -r -- "$t" ;;
    esac
  done
  return 0
}

_cockpit() {
  local -a cands
  cands=("${(@f)$(__cockpit_candidates "${(@)words[1,CURRENT]}")}")
  if [[ ${cands[1]} == @file ]]; then
    _files
    return
  fi
  cands=(${cands:#})
  (( ${#cands} )) && compadd -- "${cands[@]}"
}

if [[ ${zsh_eval_context[-1]} == loadautofunc ]]; then
  _cockpit "$@"
else
  (( ${+functions[compdef]} )) || { autoload -Uz compinit && compinit; }
  compdef _cockpit cockpit
fi
"""

FISH = r"""
@@DATA@@

function __cockpit_candidates
    set -l cur $argv[-1]
    set -l cmd ''
    set -l valued ''
    set -l helping ''
    set -l demo ''
    set -l npos 0
    set -l dir (set -q XDG_STATE_HOME; and echo $XDG_STATE_HOME; or echo $HOME/.local/state)/cockpit/completion
    for i in (seq 2 (math (count $argv) - 1))
        set -l w $argv[$i]
        if test -n "$valued"
            set valued ''
            continue
        end
        switch $w
            case --demo
                set demo 1
                continue
            case '--*=*'
                continue
            case '-*'
                if __cockpit_vals $w >/dev/null; or __cockpit_vals "$cmd $w" >/dev/null
                    set valued $w
                end
                continue
        end
        if test -z "$cmd" -a -z "$helping" -a "$w" = help
            set helping 1
            continue
        end
        if test -n "$cmd"; and __cockpit_opts $cmd >/dev/null
            set -l subs (__cockpit_tree "^$cmd")
            if not contains -- $w (string split ' ' -- "$subs")
                set npos (math $npos + 1)
                continue
            end
        end
        if test -z "$cmd"
            set cmd $w
        else
            set cmd "$cmd $w"
        end
    end
    set -l whole ''
    if test -n "$cmd" -a -z "$helping"; and __cockpit_opts $cmd >/dev/null
        set whole 1
    end
    set -l spec ''
    if test -n "$valued"
        set spec (__cockpit_vals $valued; or __cockpit_vals "$cmd $valued")
    else if string match -q -- '-*' "$cur"
        if test -n "$whole"
            set spec (__cockpit_opts $cmd) '@@AFTER@@'
        else if test -z "$cmd"
            set spec '@@FIRST@@'
        end
    else if test -n "$whole"
        set -l raw (__cockpit_pos $cmd)
        set -l pos (string split '|' -- "$raw")
        set -l n (math $npos + 1)
        if test $n -le (count $pos)
            set spec $pos[$n]
        end
        if test $npos -eq 0
            set spec (__cockpit_tree "^$cmd") $spec
        end
    else
        set spec (__cockpit_tree "^$cmd")
    end
    if test -n "$demo"
        set dir $dir/demo
    end
    for t in (string split ' ' -- "$spec")
        switch $t
            case ''
                continue
            case '@file'
                echo @file
            case '@*'
                for f in (string split ',' -- (string sub -s 2 -- $t))
                    test -r "$dir/$f"; or continue
                    while read -l line
                        if test -n "$line"; and string match -q -- "$cur*" "$line"
                            echo $line
                        end
                    end < "$dir/$f"
                end
            case '*'
                if string match -q -- "$cur*" "$t"
                    echo $t
                end
        end
    end
    return 0
end

function __cockpit_complete
    set -l cur (commandline -ct)
    set -l cands (__cockpit_candidates (commandline -opc) "$cur")
    if test "$cands[1]" = @file
        __fish_complete_path "$cur"
    else
        printf '%s\n' $cands
    end
end

complete -c cockpit -e
complete -c cockpit -f -a '(__cockpit_complete)'
"""
