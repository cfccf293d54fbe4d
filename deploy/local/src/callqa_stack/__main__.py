"""`python -m callqa_stack up|restart|down|status|demo` (what `./run stack ...` and `./run demo` call)."""

from __future__ import annotations

import argparse
import sys

from callqa_stack import stack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./run stack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start ministack, Tansu and the services that are not running (idempotent)")
    restart = sub.add_parser("restart", help="stop one part and start it again")
    restart.add_argument("part", choices=stack.COMPONENTS)
    sub.add_parser("down", help="stop what `up` started; data stays in .callqa/")
    sub.add_parser("status", help="what runs where")
    demo = sub.add_parser("demo", help="post the sample calls and show what came out")
    demo.add_argument("--keep", action="store_true", help="leave the stack running afterwards")
    args = parser.parse_args(argv)

    if args.command == "up":
        stack.up()
        print_status()
    elif args.command == "restart":
        stack.restart(args.part)
        print_status()
    elif args.command == "down":
        stack.down()
        print("stack stopped; data kept in", stack.STATE_DIR)
    elif args.command == "status":
        print_status()
    elif args.command == "demo":
        from callqa_stack.demo import run_demo

        return run_demo(keep=args.keep)
    return 0


def print_status() -> None:
    for name, state, where in stack.status():
        print(f"{name:<16} {state:<18} {where}")


if __name__ == "__main__":
    sys.exit(main())
