// Marks the page as one where JavaScript runs, before it is drawn (GOV.UK Frontend's
// components and the console's live updates style themselves by these classes). A file, not
// an inline script: the Content-Security-Policy allows scripts from this site only.
document.body.className +=
  " js-enabled" + ("noModule" in HTMLScriptElement.prototype ? " govuk-frontend-supported" : "");
