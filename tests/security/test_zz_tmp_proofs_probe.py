def test_probe(platform):
    k = platform.a.kernel
    out = k.run('''
import os
res = {}
for fd in (0, 1, 2):
    res[fd] = {}
    try:
        res[fd]["link"] = os.readlink(f"/proc/self/fd/{fd}")
        res[fd]["data"] = open(f"/proc/self/fd/{fd}", "rb").read()[-300:].decode(errors="replace")
    except Exception as e:
        res[fd]["err"] = repr(e)
_report(res)
''')
    raise AssertionError(f"PROBE {out}")
