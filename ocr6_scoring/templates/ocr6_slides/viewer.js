(function () {  // the built-in offline slide viewer: arrows / space / page keys, click on the left or right half, #/N in the URL
  var slides = Array.prototype.slice.call(document.querySelectorAll('.reveal .slides > section')), i = 0;
  var counter = document.createElement('div'); counter.className = 'ocr6-counter'; document.body.appendChild(counter);
  function show(k) {
    i = Math.max(0, Math.min(slides.length - 1, k));
    slides.forEach(function (s, j) { s.classList.toggle('ocr6-present', j === i); });
    counter.textContent = (i + 1) + ' / ' + slides.length; history.replaceState(null, '', '#/' + i);
  }
  document.addEventListener('keydown', function (e) {
    if (['ArrowRight', 'ArrowDown', 'PageDown', ' '].indexOf(e.key) >= 0) { show(i + 1); e.preventDefault(); }
    else if (['ArrowLeft', 'ArrowUp', 'PageUp'].indexOf(e.key) >= 0) { show(i - 1); e.preventDefault(); }
    else if (e.key === 'Home') show(0); else if (e.key === 'End') show(slides.length - 1);
  });
  document.addEventListener('click', function (e) { if (!e.target.closest('a')) show(e.clientX > innerWidth / 2 ? i + 1 : i - 1); });
  var m = /#\/(\d+)/.exec(location.hash); show(m ? +m[1] : 0);
})();
