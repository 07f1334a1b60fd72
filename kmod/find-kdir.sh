#!/bin/sh
# Prints the kernel build tree to build memx.ko against: the running kernel's
# if it has one, else that of Debian's default kernel (the one linux-image-amd64
# depends on, which ci/vm.sh boots by default), else the newest tree under
# /lib/modules. Prints nothing if none.
run=/lib/modules/$(uname -r)/build
if [ -d "$run" ]; then echo "$run"; exit 0; fi
v=$(dpkg-query -W -f='${Depends}' linux-image-amd64 2>/dev/null |
	sed -n 's/^.*linux-image-\([^ ,|]*\).*$/\1/p')
if [ -n "$v" ] && [ -d "/lib/modules/$v/build" ]; then echo "/lib/modules/$v/build"; exit 0; fi
for d in $(ls -d /lib/modules/*/build 2>/dev/null | sort -V -r); do
	[ -d "$d" ] && { echo "$d"; exit 0; }
done
exit 0
