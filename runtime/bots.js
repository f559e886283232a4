'use strict'

// Crawlers, as Next tells them apart (`next/dist/shared/lib/router/utils/is-bot.js`, 16.4): a
// page not generated yet is rendered for them (blocking) instead of answered with its fallback
// shell, so what they index is the page, not its loading state.

/** Googlebot, which runs JavaScript (not its `-Google` relatives). */
const DOM_BOT_UA = /Googlebot(?!-)|Googlebot$/i

/**
 * Crawlers that read the HTML as it is (link previews, search engines without JavaScript): Next's
 * `HTML_LIMITED_BOT_UA_RE`, the default of the `htmlLimitedBots` option.
 */
const HTML_LIMITED_BOT_UA =
  /[\w-]+-Google|Google-[\w-]+|Chrome-Lighthouse|Slurp|DuckDuckBot|baiduspider|yandex|sogou|bitlybot|tumblr|vkShare|quora link preview|redditbot|ia_archiver|Bingbot|BingPreview|applebot|facebookexternalhit|facebookcatalog|Twitterbot|LinkedInBot|Slackbot|Discordbot|WhatsApp|SkypeUriPreview|Yeti|googleweblight/i

/** Next's `isBot(userAgent)`. */
function isBot(userAgent) {
  if (!userAgent) return false
  return DOM_BOT_UA.test(userAgent) || HTML_LIMITED_BOT_UA.test(userAgent)
}

module.exports = { isBot }
