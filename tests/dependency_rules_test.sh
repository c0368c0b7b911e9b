#!/bin/bash
# The dependency rules between the project's folders, checked on the #include lines of every
# source and header in them (issue 13). One line per forbidden include, naming file and line;
# exit 1 when there is any.
#   fixtures/  knows no suite and no runner: nothing from suites/, runner/, vm/, toolconf/, reports/
#   reports/   is pure data: nothing from fixtures/ that touches namespaces or netlink (netlink.h,
#              netns.h, child.h), nothing from runner/, vm/, suites/, toolconf/, and no namespace
#              or netlink system header (<libmnl/...>, <linux/netlink.h>, <linux/rtnetlink.h>,
#              <sched.h>, ...)
#   suites/    run the same under any runner: nothing from runner/, vm/, toolconf/
#   vm/        boots what the runner hands it: nothing from runner/ or suites/
# Usage: dependency_rules_test.sh SOURCE_DIR
set -u
src=${1:?usage: dependency_rules_test.sh SOURCE_DIR}
cd "$src" || exit 2

# folder @ extended regex of the forbidden include targets (what stands between the quotes or
# angle brackets) @ why
rules=(
  'fixtures @ ^(suites|runner|vm|toolconf|reports)/ @ fixtures know no suite, runner, VM, tool or report code'
  'reports @ ^(runner|vm|suites|toolconf)/ @ reports are pure data: no runner, VM, suite or tool code'
  'reports @ ^fixtures/(netlink|netns|child)\.h$ @ reports are pure data: no namespaces or netlink'
  'reports @ ^(libmnl/|linux/(netlink|rtnetlink|if_link|net_namespace|veth|sched)\.h$|sched\.h$|sys/mount\.h$|net/if\.h$) @ reports are pure data: no namespace or netlink header'
  'suites @ ^(runner|vm|toolconf)/ @ suites run the same under any runner'
  'vm @ ^(runner|suites)/ @ the VM code boots what the runner hands it'
)

include_re='^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]([^>"]+)[>"]'
broken=0
checked=0
for rule in "${rules[@]}"; do
  folder=${rule%% @ *}
  pattern=${rule#* @ }
  why=${pattern#* @ }
  pattern=${pattern%% @ *}
  [[ -d $folder ]] || { echo "no folder $folder/ in $src" >&2; exit 2; }
  while IFS= read -r -d '' file; do
    checked=$((checked + 1))
    lineno=0
    while IFS= read -r line || [[ -n $line ]]; do
      lineno=$((lineno + 1))
      [[ $line =~ $include_re ]] || continue
      target=${BASH_REMATCH[1]}
      if [[ $target =~ $pattern ]]; then
        echo "$file:$lineno: #include of $target is forbidden: $why"
        broken=$((broken + 1))
      fi
    done <"$file"
  done < <(find "$folder" -type f \( -name '*.h' -o -name '*.cc' -o -name '*.h.in' \
             -o -name '*.cc.in' \) -print0 | sort -z)
done

if ((checked == 0)); then
  echo "no source files found under $src" >&2
  exit 2
fi
if ((broken > 0)); then
  echo "$broken forbidden include(s)"
  exit 1
fi
echo "dependency rules hold (${#rules[@]} rules, $checked file reads)"
