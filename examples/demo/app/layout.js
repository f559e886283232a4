import Link from 'next/link'

export const metadata = { title: 'acme demo' }

export default function RootLayout({ children }) {
  return (
    <html lang="en">
      <body>
        <nav>
          <Link href="/">Home</Link> · <Link href="/about">About</Link> · <Link href="/posts/1">Post 1</Link> ·{' '}
          <Link href="/posts/2">Post 2</Link> · <a href="/api/time">API</a>
        </nav>
        {children}
      </body>
    </html>
  )
}
