/* The fleet page's only script (docs/ui.md). The page works without it;
 * it adds sorting of tables and live updates of the parts of a view that
 * ask for them (data-live). */
'use strict';

function sortKey(cell) {
	var s = cell.getAttribute('data-sort');
	if (s !== null && s !== '' && !isNaN(Number(s))) return Number(s);
	return cell.textContent.trim().toLowerCase();
}

function makeSortable(table) {
	var heads = table.querySelectorAll('thead th');
	heads.forEach(function (th, col) {
		var label = th.textContent;
		var btn = document.createElement('button');
		btn.type = 'button';
		btn.textContent = label;
		th.textContent = '';
		th.appendChild(btn);
		btn.addEventListener('click', function () {
			var asc = th.getAttribute('aria-sort') !== 'ascending';
			heads.forEach(function (h) { h.removeAttribute('aria-sort'); });
			th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
			var body = table.tBodies[0];
			var rows = Array.prototype.slice.call(body.rows);
			rows.sort(function (a, b) {
				var x = sortKey(a.cells[col]), y = sortKey(b.cells[col]);
				return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1);
			});
			rows.forEach(function (r) { body.appendChild(r); });
		});
	});
}

// An element with data-live="URL" is replaced every few seconds by the
// element of the same id that URL answers (a fragment of the page, with
// the session cookie). Paused while the page is hidden.
function live(el) {
	var url = el.getAttribute('data-live'), id = el.id;
	function tick() {
		if (document.hidden) return;
		fetch(url, { credentials: 'same-origin', cache: 'no-store' })
			.then(function (r) { return r.ok ? r.text() : null; })
			.then(function (html) {
				if (!html) return;
				var tpl = document.createElement('template');
				tpl.innerHTML = html;
				var fresh = tpl.content.getElementById(id);
				var cur = document.getElementById(id);
				if (fresh && cur) {
					cur.replaceWith(fresh);
					fresh.querySelectorAll('table.sortable').forEach(makeSortable);
				}
			})
			.catch(function () {});
	}
	setInterval(tick, 2000);
}

document.addEventListener('DOMContentLoaded', function () {
	document.querySelectorAll('table.sortable').forEach(makeSortable);
	document.querySelectorAll('[data-live]').forEach(live);
});
