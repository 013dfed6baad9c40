"""CLIXML and plain-text stderr from powershell.exe turned into lines and error records."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from lab.wsman.toyhost import clixml_error_block, error_record_lines
from wizard.remote.clixml import (
    ClixmlStreamDecoder,
    clixml_to_text,
    parse_error_records,
    unescape,
)

NOT_FOUND = (
    "#< CLIXML\r\n"
    '<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
    '<Obj S="progress" RefId="0"><TN RefId="0"><T>System.Management.Automation.PSCustomObject'
    "</T></TN><MS><I64 N=\"SourceId\">1</I64></MS></Obj>"
    "<S S=\"Error\">Get-Foo : The term 'Get-Foo' is not recognized as the name of a cmdlet, "
    "function, script file, _x000D__x000A_</S>"
    '<S S="Error">or operable program. Check the spelling. &lt;S&gt; &amp;_x000D__x000A_</S>'
    '<S S="Error">At line:1 char:1_x000D__x000A_</S>'
    '<S S="Error">+ Get-Foo_x000D__x000A_</S>'
    '<S S="Error">+ ~~~~~~~_x000D__x000A_</S>'
    '<S S="Error">    + CategoryInfo          : ObjectNotFound: (Get-Foo:String) [], '
    "CommandNotFoundException_x000D__x000A_</S>"
    '<S S="Error">    + FullyQualifiedErrorId : CommandNotFoundException_x000D__x000A_</S>'
    '<S S="Error"> _x000D__x000A_</S>'
    "</Objs>"
)


def test_not_recognized_record() -> None:
    [record] = parse_error_records(NOT_FOUND)
    assert record.message == (
        "The term 'Get-Foo' is not recognized as the name of a cmdlet, function, script file, "
        "or operable program. Check the spelling. <S> &"
    )
    assert record.category == "ObjectNotFound"
    assert record.fully_qualified_error_id == "CommandNotFoundException"
    assert record.target == "Get-Foo"
    assert record.raw.startswith("Get-Foo : The term") and "At line:1 char:1" in record.raw


def test_clixml_becomes_plain_text_without_progress_records() -> None:
    text = clixml_to_text(NOT_FOUND)
    assert "CLIXML" not in text and "SourceId" not in text
    assert text.splitlines()[2] == "At line:1 char:1"


def test_two_records_and_write_error() -> None:
    stderr = clixml_error_block(
        error_record_lines("Write-Error 'disk full'", "disk full",
                           "NotSpecified: (:) [Write-Error], WriteErrorException",
                           "Microsoft.PowerShell.Commands.WriteErrorException")
        + error_record_lines("Stop-CsWindowsService", "Access is denied",
                             "PermissionDenied: (RTCSRV:String) [], UnauthorizedAccessException",
                             "StopService,Microsoft.Rtc.Management.StopServiceCmdlet")
    )
    first, second = parse_error_records(stderr)
    assert (first.message, first.category, first.target) == ("disk full", "NotSpecified", "")
    assert second.message == "Access is denied"
    assert second.category == "PermissionDenied" and second.target == "RTCSRV"
    assert second.fully_qualified_error_id == "StopService,Microsoft.Rtc.Management.StopServiceCmdlet"


def test_plain_text_stderr() -> None:
    plain = (
        "Get-Foo : The term 'Get-Foo' is not recognized as the name of a cmdlet.\r\n"
        "At line:1 char:1\r\n+ Get-Foo\r\n+ ~~~~~~~\r\n"
        "    + CategoryInfo          : ObjectNotFound: (Get-Foo:String) [], "
        "CommandNotFoundException\r\n"
        "    + FullyQualifiedErrorId : CommandNotFoundException\r\n \r\n"
    )
    [record] = parse_error_records(plain)
    assert record.fully_qualified_error_id == "CommandNotFoundException"
    assert record.message == "The term 'Get-Foo' is not recognized as the name of a cmdlet."
    [loose] = parse_error_records("The command line is too long.\r\n")
    assert (loose.message, loose.category, loose.fully_qualified_error_id) == (
        "The command line is too long.", "", "")
    assert parse_error_records("") == []


def test_unescape_handles_surrogate_pairs() -> None:
    assert unescape("a_x000D__x000A_b") == "a\r\nb"
    assert unescape("_xD83D__xDE00_") == "\U0001F600"


@given(st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=30))
def test_stream_decoder_gives_the_same_lines_whatever_the_chunking(cuts: list[int]) -> None:
    stderr = "warning: plain first\r\n" + NOT_FOUND + "tail line\r\n"
    whole = ClixmlStreamDecoder()
    expected = whole.feed(stderr) + whole.flush()
    pieces: list[str] = []
    position = 0
    for cut in cuts:
        pieces.append(stderr[position : position + cut])
        position += cut
    pieces.append(stderr[position:])
    decoder = ClixmlStreamDecoder()
    got: list[str] = []
    for piece in pieces:
        got += decoder.feed(piece)
    got += decoder.flush()
    assert got == expected
    assert expected[0] == "warning: plain first" and expected[-1] == "tail line"
    assert "    + FullyQualifiedErrorId : CommandNotFoundException" in expected


def test_warning_and_verbose_streams_are_kept_as_prefixed_lines_not_errors() -> None:
    from wizard.remote.clixml import ClixmlStreamDecoder, parse_error_records

    stderr = ('#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
              '<S S="verbose">"Test-CsReplica" processing has completed._x000D__x000A_</S>'
              '<S S="warning">Test-CsReplica failed._x000D__x000A_</S>'
              '<S S="Error">Get-Foo : boom_x000D__x000A_</S>'
              '<S S="Error">    + FullyQualifiedErrorId : X_x000D__x000A_</S></Objs>')
    dec = ClixmlStreamDecoder()
    lines = dec.feed(stderr) + dec.flush()
    assert lines[:2] == ['VERBOSE: "Test-CsReplica" processing has completed.', "WARNING: Test-CsReplica failed."]
    records = parse_error_records(stderr)
    assert [r.message for r in records] == ["boom"]
