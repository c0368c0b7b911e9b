// ToMatrixHtml (declared in reports/matrix_report.h): the matrix as one static page.
#include <charconv>
#include <cmath>
#include <map>
#include <string_view>

#include "reports/matrix_model.h"
#include "reports/matrix_report.h"
#include "reports/report_text.h"

namespace conform {

namespace {

constexpr size_t kShortReasonBytes = 300;

// `raw` as HTML text or attribute value: readable (ReadableText), markup characters and both
// quotes escaped.
std::string Html(std::string_view raw) {
  const std::string text = ReadableText(raw);
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (const char ch : text) {
    switch (ch) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(ch);
    }
  }
  return out;
}

// A relative link: every byte but unreserved characters and '/' percent-encoded, so that no
// part of a log path can become a scheme ("javascript:"), a query or a fragment.
std::string Href(std::string_view path) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : path) {
    const auto byte = static_cast<unsigned char>(ch);
    const bool keep = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                      (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' ||
                      ch == '~' || ch == '/';
    if (keep) {
      out.push_back(ch);
    } else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0xF];
    }
  }
  return out;
}

std::string Seconds(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) seconds = 0;
  char buffer[64];
  const auto [end, ec] =
      std::to_chars(buffer, buffer + sizeof buffer, seconds, std::chars_format::fixed, 1);
  return (ec == std::errc() ? std::string(buffer, end) : "0.0") + " s";
}

// CSS class of a status: "s-pass", "s-fail", "s-skip", "s-error", "s-xfail", "s-xpass",
// "s-notrun".
std::string StatusClass(const std::string& status) {
  if (status == kNotRun) return "s-notrun";
  std::string lower = "s-";
  for (const char ch : status) lower.push_back(static_cast<char>(ch - 'A' + 'a'));
  return lower;
}

// Sort key of a status, worst first.
int StatusRank(const std::string& status) {
  static const std::map<std::string, int, std::less<>> kRanks = {
      {"FAIL", 0}, {"ERROR", 1}, {"XPASS", 2}, {"XFAIL", 3},
      {"SKIP", 4}, {kNotRun, 5}, {"PASS", 6}};
  const auto it = kRanks.find(status);
  return it == kRanks.end() ? 0 : it->second;
}

constexpr std::string_view kStyle = R"css(
body { font: 14px/1.4 system-ui, sans-serif; margin: 1em; color: #1b1b1b; background: #fff; }
h1 { font-size: 1.4em; margin: 0 0 .3em; }
.lead { margin: 0 0 1em; color: #444; }
#controls { display: flex; flex-wrap: wrap; gap: 1.2em; align-items: center; margin: 0 0 1em;
  padding: .5em .8em; background: #f2f4f7; border: 1px solid #d5d9e0; border-radius: 4px; }
#controls[hidden] { display: none; }
#controls input[type=search] { width: 22em; }
.wrap { overflow-x: auto; }
table { border-collapse: collapse; }
th, td { border: 1px solid #c9ced6; padding: .35em .5em; vertical-align: top; text-align: left; }
thead th { background: #eef1f5; position: sticky; top: 0; z-index: 1; min-width: 13em; }
thead th.corner { min-width: 22em; }
.colname { font-size: 1.1em; font-weight: 700; }
.kind { color: #555; font-weight: 400; font-size: .85em; }
dl.env { display: grid; grid-template-columns: auto 1fr; gap: 0 .6em; margin: .3em 0;
  font-weight: 400; font-size: .85em; }
dl.env dt { color: #555; }
dl.env dd { margin: 0; overflow-wrap: anywhere; }
ul.counts { list-style: none; padding: 0; margin: .3em 0 0; font-weight: 400; font-size: .85em; }
ul.counts li { display: inline-block; margin-right: .6em; }
tr.doc th { background: #dde3ec; font-size: 1.05em; }
tr.doc .docid { color: #555; font-weight: 400; }
tr.clause th { font-weight: 400; max-width: 34em; }
tr.clause code { font-weight: 700; overflow-wrap: anywhere; }
tr.clause .text { color: #333; font-size: .9em; }
tr.differs th { border-left: 4px solid #7a4dd8; }
.mark { color: #7a4dd8; font-weight: 700; }
td.cell { min-width: 10em; max-width: 30em; }
td .status { font-weight: 700; }
td .reason { font-size: .85em; white-space: pre-wrap; overflow-wrap: anywhere; margin-top: .2em; }
td details { font-size: .8em; }
td details pre { white-space: pre-wrap; overflow-wrap: anywhere; max-height: 30em; overflow: auto; }
td .ncases { font-size: .75em; color: #555; }
.s-pass { background: #dcf3dc; } .s-pass .status { color: #14621b; }
.s-fail { background: #f9d3d3; } .s-fail .status { color: #9b1111; }
.s-skip { background: #f7f0c9; } .s-skip .status { color: #6b5800; }
.s-error { background: #f1d9f5; } .s-error .status { color: #74127f; }
.s-xfail { background: repeating-linear-gradient(135deg, #fbe3cf, #fbe3cf 6px, #f6d6bb 6px,
  #f6d6bb 12px); } .s-xfail .status { color: #8a3d00; }
.s-xpass { background: #dcf3dc; outline: 2px dashed #d18a00; outline-offset: -3px; }
.s-xpass .status { color: #14621b; }
td .expectation { font-size: .85em; margin-top: .3em; padding-top: .2em;
  border-top: 1px dotted #b07a4a; overflow-wrap: anywhere; }
.s-notrun { background: #eceff2; color: #666; } .s-notrun .status { font-weight: 400; }
tr[hidden] { display: none; }
)css";

// Only adds controls: without it every row is shown, in catalogue order.
constexpr std::string_view kScript = R"js(
(function () {
  'use strict';
  var table = document.getElementById('matrix');
  var controls = document.getElementById('controls');
  if (!table || !controls) return;
  var groups = Array.prototype.slice.call(table.tBodies);
  var rows = Array.prototype.slice.call(table.querySelectorAll('tr.clause'));

  function label(text, input) {
    var l = document.createElement('label');
    l.appendChild(input);
    l.appendChild(document.createTextNode(' ' + text));
    return l;
  }
  var differ = document.createElement('input');
  differ.type = 'checkbox';
  differ.id = 'only-differing';
  var filter = document.createElement('input');
  filter.type = 'search';
  filter.id = 'filter';
  filter.placeholder = 'clause id or text';
  var sort = document.createElement('select');
  sort.id = 'sort';
  [['catalogue', 'catalogue order'], ['clause', 'clause id'], ['status', 'status, worst first']]
    .forEach(function (o) {
      var option = document.createElement('option');
      option.value = o[0];
      option.textContent = o[1];
      sort.appendChild(option);
    });
  var shown = document.createElement('span');
  shown.id = 'shown';
  // With one column nothing can differ.
  if (table.querySelectorAll('thead th.column').length > 1) {
    controls.appendChild(label('only rows that differ between columns', differ));
  }
  var f = document.createElement('label');
  f.appendChild(document.createTextNode('filter '));
  f.appendChild(filter);
  controls.appendChild(f);
  var s = document.createElement('label');
  s.appendChild(document.createTextNode('sort by '));
  s.appendChild(sort);
  controls.appendChild(s);
  controls.appendChild(shown);
  controls.hidden = false;

  function apply() {
    var words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
    var visible = 0;
    rows.forEach(function (row) {
      var text = row.getAttribute('data-search');
      var show = (!differ.checked || row.getAttribute('data-differs') === '1') &&
        words.every(function (w) { return text.indexOf(w) >= 0; });
      row.hidden = !show;
      if (show) visible++;
    });
    groups.forEach(function (body) {
      var heading = body.querySelector('tr.doc');
      if (heading) heading.hidden = !body.querySelector('tr.clause:not([hidden])');
    });
    shown.textContent = visible + ' of ' + rows.length + ' clauses shown';
  }
  function order() {
    var key = sort.value;
    groups.forEach(function (body) {
      var own = Array.prototype.slice.call(body.querySelectorAll('tr.clause'));
      own.sort(function (a, b) {
        var d = 0;
        if (key === 'clause') {
          d = a.getAttribute('data-clause') < b.getAttribute('data-clause') ? -1 :
              a.getAttribute('data-clause') > b.getAttribute('data-clause') ? 1 : 0;
        } else if (key === 'status') {
          d = Number(a.getAttribute('data-rank')) - Number(b.getAttribute('data-rank'));
        }
        return d || Number(a.getAttribute('data-order')) - Number(b.getAttribute('data-order'));
      });
      own.forEach(function (row) { body.appendChild(row); });
    });
  }
  differ.addEventListener('change', apply);
  filter.addEventListener('input', apply);
  sort.addEventListener('change', order);
  apply();
})();
)js";

std::string Lowercase(std::string text) {
  for (char& ch : text)
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
  return text;
}

void AppendColumnHeader(const MatrixColumn& column, std::string& html) {
  const Environment& env = column.run.environment;
  const Summary summary = CountSummary(column.run);
  html += "<th scope=\"col\" class=\"column\" data-column=\"" + Html(column.name) + "\">";
  html += "<div class=\"colname\">" + Html(column.name) + "</div>";
  html += "<div class=\"kind\">" + Html(column.kind) + "</div>";
  html += "<dl class=\"env\">";
  auto item = [&html](std::string_view term, const std::string& value) {
    html +=
        "<dt>" + std::string(term) + "</dt><dd>" + (value.empty() ? "—" : Html(value)) + "</dd>";
  };
  item("kernel", env.kernel_release);
  item("config", env.kernel_config_source);
  item("sandbox", env.sandbox);
  item("accelerator", env.accelerator);
  if (!env.runsc_version.empty()) item("runsc", env.runsc_version);
  for (const CaseResult& c : column.run.cases) {
    if (!c.tool_version.empty()) {
      item("tool", c.tool + " " + c.tool_version);
      break;
    }
  }
  item("duration", Seconds(column.wall_s));
  html += "</dl><ul class=\"counts\">";
  auto count = [&html](const char* name, int value) {
    html += std::string("<li data-count=\"") + name + "\">" + std::to_string(value) + " " + name +
            "</li>";
  };
  count("passed", summary.passed);
  count("failed", summary.failed);
  count("skipped", summary.skipped);
  count("errors", summary.errors);
  count("timeouts", summary.timeouts);
  count("missed", summary.missed);
  count("xfailed", summary.xfailed);
  count("xpassed", summary.xpassed);
  html += "</ul></th>";
}

void AppendCell(const MatrixCell& cell, std::string& html) {
  html += "<td class=\"cell " + StatusClass(cell.status) + "\" data-status=\"" + Html(cell.status) +
          "\">";
  const std::string word = cell.status == kNotRun ? "not run" : cell.status;
  if (cell.log.empty()) {
    html += "<span class=\"status\">" + Html(word) + "</span>";
  } else {
    html += "<a class=\"status\" href=\"" + Html(Href(cell.log)) + "\" title=\"case log\">" +
            Html(word) + "</a>";
  }
  if (!cell.reason.empty()) {
    const std::string first = FirstLine(cell.reason, kShortReasonBytes);
    html += "<div class=\"reason\">" + Html(first) + "</div>";
    if (first != cell.reason) {
      html +=
          "<details><summary>whole reason</summary><pre>" + Html(cell.reason) + "</pre></details>";
    }
  }
  if (cell.expectation) {
    // Only http(s) links: the expectation file accepts nothing else, and a link is checked
    // again here because the page must never carry a "javascript:" one.
    const std::string& link = cell.expectation->link;
    const bool web = link.starts_with("https://") || link.starts_with("http://");
    html += "<div class=\"expectation\">" +
            std::string(cell.status == "XFAIL" ? "expected failure: " : "stale expectation: ") +
            Html(FirstLine(cell.expectation->reason, kShortReasonBytes)) + " " +
            (web ? "<a class=\"expect-link\" rel=\"noreferrer noopener\" href=\"" + Html(link) +
                       "\">" + Html(link) + "</a>"
                 : Html(link)) +
            "</div>";
  }
  if (cell.cases.size() > 1)
    html += "<div class=\"ncases\">" + std::to_string(cell.cases.size()) + " cases</div>";
  html += "</td>";
}

}  // namespace

std::string ToMatrixHtml(const std::vector<MatrixColumn>& columns, const std::string& title) {
  const std::vector<MatrixGroup> groups = BuildMatrix(columns);
  const std::string heading = title.empty() ? "netns-conform compatibility matrix" : title;
  size_t clauses = 0, differing = 0;
  for (const MatrixGroup& group : groups) {
    for (const MatrixRow& row : group.rows) {
      ++clauses;
      if (row.differs) ++differing;
    }
  }

  std::string html =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      // Nothing may come from elsewhere: the page is read offline, from CI artifacts.
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
      "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>" +
      Html(heading) + "</title>\n<style>" + std::string(kStyle) + "</style>\n</head>\n<body>\n";
  html += "<h1>" + Html(heading) + "</h1>\n";
  html += "<p class=\"lead\">" + std::to_string(clauses) + " clauses, " +
          std::to_string(columns.size()) + (columns.size() == 1 ? " column" : " columns");
  if (columns.size() > 1) {
    html += "; " + std::to_string(differing) +
            " clauses differ between columns (marked <span class=\"mark\">≠</span>)";
  }
  html +=
      ". A cell is the clause's verdict there: PASS when all its cases passed, SKIP when all "
      "skipped, XFAIL when its failures are all known kernel bugs (an expectation names them), "
      "XPASS when it passed where an expectation said it fails (the expectation is stale), "
      "ERROR when one errored, timed out or was missed (and none failed), FAIL otherwise.</p>\n";
  html += "<div id=\"controls\" hidden></div>\n<div class=\"wrap\">\n<table id=\"matrix\">\n";
  html += "<thead><tr><th scope=\"col\" class=\"corner\">clause</th>";
  for (const MatrixColumn& column : columns) AppendColumnHeader(column, html);
  html += "</tr></thead>\n";

  size_t order = 0;
  for (const MatrixGroup& group : groups) {
    html += "<tbody data-document=\"" + Html(group.document) + "\">\n";
    html += "<tr class=\"doc\"><th scope=\"rowgroup\" colspan=\"" +
            std::to_string(columns.size() + 1) + "\">" + Html(group.title) +
            " <span class=\"docid\">(" + Html(group.document) + ")</span></th></tr>\n";
    for (const MatrixRow& row : group.rows) {
      int rank = StatusRank("PASS");
      for (const MatrixCell& cell : row.cells) rank = std::min(rank, StatusRank(cell.status));
      html += "<tr class=\"clause" + std::string(row.differs ? " differs" : "") +
              "\" data-clause=\"" + Html(row.clause) + "\" data-differs=\"" +
              (row.differs ? "1" : "0") + "\" data-rank=\"" + std::to_string(rank) +
              "\" data-order=\"" + std::to_string(order++) + "\" data-search=\"" +
              Html(Lowercase(row.clause + " " + row.text)) + "\">";
      html += "<th scope=\"row\">" +
              std::string(row.differs ? "<span class=\"mark\" title=\"differs\">≠</span> " : "") +
              "<code>" + Html(row.clause) + "</code>";
      if (!row.text.empty()) html += "<div class=\"text\">" + Html(row.text) + "</div>";
      html += "</th>";
      for (const MatrixCell& cell : row.cells) AppendCell(cell, html);
      html += "</tr>\n";
    }
    html += "</tbody>\n";
  }
  html += "</table>\n</div>\n<script>" + std::string(kScript) + "</script>\n</body>\n</html>\n";
  return html;
}

}  // namespace conform
