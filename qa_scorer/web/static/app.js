// qa-scorer web desk: keyboard shortcuts for the review page.  No inline script anywhere (CSP);
// every action is still a plain form POST, so everything also works without this file.
//   j / k   move to the next / previous finding
//   c / r   confirm / reject the focused finding: the reason field takes the focus, Enter saves
//   n       next item in my queue
//   Esc     leave the reason field
(function () {
  "use strict";
  function findings() { return Array.prototype.slice.call(document.querySelectorAll("li.finding")); }
  function current() {
    var el = document.activeElement;
    while (el && el !== document.body) {
      if (el.classList && el.classList.contains("finding")) return el;
      el = el.parentNode;
    }
    return document.querySelector("li.finding.focused");
  }
  function focusFinding(li) {
    if (!li) return;
    findings().forEach(function (f) { f.classList.remove("focused"); });
    li.classList.add("focused");
    li.focus();
    li.scrollIntoView({ block: "nearest" });
  }
  function move(step) {
    var all = findings();
    if (!all.length) return;
    var at = all.indexOf(current());
    var next = at < 0 ? (step > 0 ? 0 : all.length - 1) : Math.min(all.length - 1, Math.max(0, at + step));
    focusFinding(all[next]);
  }
  function choose(verdict) {
    var li = current();
    if (!li) return;
    var form = li.querySelector("form.decide");
    if (!form) return;
    var reason = form.querySelector("input.reason");
    var button = form.querySelector('button[value="' + verdict + '"]');
    li.classList.remove("pending-confirm", "pending-reject");
    li.classList.add("pending-" + verdict);
    form.setAttribute("data-verdict", verdict);
    if (reason.value.trim() && button) { form.requestSubmit(button); return; }
    reason.focus();
  }
  function typing(el) {
    return el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT" || el.isContentEditable);
  }
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    var t = e.target;
    if (typing(t)) {
      if (t.classList.contains("reason") && e.key === "Enter") {
        var form = t.form, verdict = form && form.getAttribute("data-verdict");
        if (verdict) {
          e.preventDefault();
          if (t.value.trim()) form.requestSubmit(form.querySelector('button[value="' + verdict + '"]'));
        }
      } else if (e.key === "Escape") {
        var li = current();
        t.blur();
        if (li) focusFinding(li);
      }
      return;
    }
    if (e.key === "j") { e.preventDefault(); move(1); }
    else if (e.key === "k") { e.preventDefault(); move(-1); }
    else if (e.key === "c") { e.preventDefault(); choose("confirm"); }
    else if (e.key === "r") { e.preventDefault(); choose("reject"); }
    else if (e.key === "n") {
      var next = document.getElementById("next-item") || document.querySelector('a[data-key="n"]');
      if (next) { e.preventDefault(); window.location.assign(next.href); }
    }
  });
  window.addEventListener("load", function () {
    // after a decision the page comes back with ?focus=<finding>: keep the reviewer's place
    var m = /[?&]focus=([^&#]+)/.exec(window.location.search);
    var all = findings();
    if (!all.length) return;
    var target = null;
    if (m) {
      var want = decodeURIComponent(m[1]);
      var at = all.findIndex(function (f) { return f.getAttribute("data-finding") === want; });
      // the next undecided finding after the one just decided
      for (var i = at + 1; i < all.length && !target; i++) if (!all[i].classList.contains("decided")) target = all[i];
      if (!target && at >= 0) target = all[at];
    }
    if (target) focusFinding(target);
  });
})();
