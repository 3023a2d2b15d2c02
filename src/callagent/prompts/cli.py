"""``callagent prompts``: put the notification prompts where Asterisk reads them, check them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from callagent.prompts import (
    DEFAULT_SOUNDS_DIR,
    DIALPLAN_LANGUAGE,
    LANGUAGES,
    PROMPTS,
    install,
    resolve,
)

app = typer.Typer(
    help="The notification calls' prompts (sound files) in Asterisk's sounds folder.",
    no_args_is_help=True,
)

_Dir = Annotated[
    Path,
    typer.Argument(help=f"Asterisk's sounds folder (astdatadir/sounds), e.g. {DEFAULT_SOUNDS_DIR}"),
]


@app.command("install")
def install_command(
    sounds_dir: _Dir,
    lang: Annotated[
        list[str] | None,
        typer.Option(help=f"a language to install ({', '.join(LANGUAGES)}); repeat; default all"),
    ] = None,
    force: Annotated[
        bool, typer.Option(help="replace prompts already there (your own recordings too)")
    ] = False,
) -> None:
    """Copy the shipped prompts into SOUNDS_DIR/<lang>/callagent/ and say what was written."""
    languages = tuple(lang or LANGUAGES)
    try:
        done = install(sounds_dir, languages, force=force)
    except ValueError as exc:
        typer.echo(f"callagent: {exc}", err=True)
        raise typer.Exit(2) from None
    except OSError as exc:  # not writable: Asterisk's folder usually needs root or asterisk
        typer.echo(f"callagent: cannot write to {sounds_dir}: {exc}", err=True)
        raise typer.Exit(1) from None
    for item in done:
        note = " (already there; --force replaces it)" if item.action == "kept" else ""
        typer.echo(f"{item.action:<8} {item.path}{note}")
        for other in item.others:
            typer.echo(f"         note: {other} is there too; Asterisk plays either format")
    typer.echo(
        "Asterisk reads them at once (no reload). notify-out plays them in Russian "
        "(Set(CHANNEL(language)=ru)); the case number needs Asterisk's ru core sounds."
    )


@app.command("check")
def check_command(
    sounds_dir: _Dir,
    lang: Annotated[
        list[str] | None,
        typer.Option(help=f"the channel language to check; repeat; default {DIALPLAN_LANGUAGE}"),
    ] = None,
) -> None:
    """List which file Asterisk would play for each prompt; exit 1 when any is missing."""
    lacking = 0
    for language in lang or [DIALPLAN_LANGUAGE]:
        for prompt in PROMPTS:
            found = resolve(sounds_dir, prompt, language)
            if found is None:
                lacking += 1
                typer.echo(f"MISSING  {language}: {prompt}")
            else:
                typer.echo(f"ok       {language}: {prompt} -> {found}")
    if lacking:
        typer.echo(
            f"{lacking} prompt(s) missing: notification calls end as prompt_missing; "
            f"run: callagent prompts install {sounds_dir}",
            err=True,
        )
        raise typer.Exit(1)
